package rabbitqueue

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

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
