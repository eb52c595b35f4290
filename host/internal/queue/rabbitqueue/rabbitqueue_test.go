package rabbitqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/queue/queuetest"
)

// URL is the RabbitMQ the tests use (SOCCERPREDICT_TEST_RABBITMQ, default the local broker).
func URL() string {
	if u := os.Getenv("SOCCERPREDICT_TEST_RABBITMQ"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

func open(t *testing.T) queue.Queue {
	b := make([]byte, 4)
	rand.Read(b)
	q := New(URL(), "soccerpredict.test."+hex.EncodeToString(b), 8)
	t.Cleanup(func() {
		q.Purge()
		q.Close()
	})
	return q
}

// channel is a channel of the tests' own on the broker, to look at queues.
func channel(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestConformance(t *testing.T) {
	q := New(URL(), "soccerpredict.test.ping", 1)
	if err := q.Publish(t.Context(), "ping"); err != nil {
		t.Fatalf("RabbitMQ is required for this test and is not usable at %s: %v (start it: rabbitmq-server -detached)", URL(), err)
	}
	q.Purge()
	q.Close()
	queuetest.Run(t, open)
}

func TestBrokerDownIsAnErrorNotAHang(t *testing.T) {
	q := New("amqp://guest:guest@127.0.0.1:1/", "nowhere", 1)
	if err := q.Publish(t.Context(), "x"); err == nil {
		t.Fatal("published to a broker that is not there")
	}
}

// A job that fails every time ends in the dead-letter queue, not in a loop.
func TestPoisonJobIsDeadLettered(t *testing.T) {
	q := open(t).(*Queue)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := q.Publish(ctx, "poison"); err != nil {
		t.Fatal(err)
	}
	go q.Consume(ctx, func(context.Context, string) error { return errors.New("always fails") })
	ch := channel(t)
	for ctx.Err() == nil {
		dlq, err := ch.QueueDeclarePassive(q.DeadLetter(), true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		if err != nil {
			t.Fatal(err)
		}
		if dlq.Messages == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the poison job never reached the dead-letter queue")
}

// A URL listing a cluster's nodes connects to the first that answers: a
// node that is down (here, nothing listens on its port) is passed over.
func TestTheFirstNodeThatAnswers(t *testing.T) {
	b := make([]byte, 4)
	rand.Read(b)
	q := New("amqp://guest:guest@127.0.0.1:1/, "+URL(), "soccerpredict.test.nodes."+hex.EncodeToString(b), 1)
	defer func() { q.Purge(); q.Close() }()
	if err := q.Publish(t.Context(), "job-1"); err != nil {
		t.Fatalf("publish with the first node down: %v", err)
	}
	if q.next != 1 {
		t.Fatalf("the node that answered is %d, want 1 (the second)", q.next)
	}
	if err := New("amqp://guest:guest@127.0.0.1:1/,amqp://guest:guest@127.0.0.1:2/", "x", 1).Publish(t.Context(), "job"); err == nil ||
		!strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Fatalf("every node down: %v, want an error naming each", err)
	}
}

// Jobs published together share messages of up to groupSize, one ID a line.
func TestJobsPublishedTogetherShareMessages(t *testing.T) {
	q := open(t).(*Queue)
	ids := make([]string, 2*groupSize+3)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%02d", i)
	}
	if err := q.Publish(t.Context(), ids...); err != nil {
		t.Fatal(err)
	}
	ch := channel(t)
	var got []string
	messages := 0
	for {
		d, ok, err := ch.Get(q.name, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if n := len(jobIDs(d.Body)); n > groupSize {
			t.Fatalf("a message of %d jobs, want at most %d", n, groupSize)
		}
		got = append(got, jobIDs(d.Body)...)
		messages++
	}
	if messages != 3 {
		t.Fatalf("%d jobs in %d messages, want 3", len(ids), messages)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("the messages carry %v, want %v", got, ids)
	}
	if err := q.Publish(t.Context(), "a", "b\nc"); err == nil {
		t.Fatal("published an ID with a line break in it")
	}
}
