// Package rabbitqueue is the production queue: a RabbitMQ quorum queue (it
// survives a broker node's loss), publisher confirms (Publish returns once
// the broker has the job), manual acks after the handler succeeds, and a
// delivery limit that dead-letters a job failing MaxDeliveries times.
// Connections are re-established on the next call after a failure. The URL
// may list several nodes of a cluster, comma-separated: a connection goes
// to the first that answers, starting after the last one that failed.
//
// Jobs published together travel together: one message carries up to
// groupSize job IDs, one per line, so the broker's work per job (a
// replicated, confirmed write, a delivery and an ack) is shared. A message
// is acknowledged once every job in it is done, and returned whole
// otherwise. A message of several jobs that comes back (a worker stopped
// or died holding it) is first split into messages of one job each, so the
// delivery limit counts each job's own deliveries: a job that kills every
// worker taking it is dead-lettered alone, not with its neighbours. A
// message of one ID is what every version of this queue reads and writes.
package rabbitqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/soccerpredict/soccerpredict/host/internal/queue"
	"github.com/soccerpredict/soccerpredict/host/internal/tracing"
)

// Queue is a RabbitMQ queue.Queue.
type Queue struct {
	urls     []string
	next     int // the node tried first on the next connect
	name     string
	prefetch int

	mu   sync.Mutex
	conn *amqp.Connection
	pub  *amqp.Channel
}

var _ queue.Queue = (*Queue)(nil)

// New prepares a queue named name on the broker at url (or the nodes of a
// cluster: URLs separated by commas); nothing connects until the first
// call, so a broker that is down does not stop the caller.
func New(url, name string, prefetch int) *Queue {
	var urls []string
	for _, u := range strings.Split(url, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return &Queue{urls: urls, name: name, prefetch: max(prefetch, 1)}
}

// dial connects to the first node that answers, from q.next on; q.mu is held.
func (q *Queue) dial() (*amqp.Connection, error) {
	var errs []error
	for i := range q.urls {
		k := (q.next + i) % len(q.urls)
		conn, err := amqp.DialConfig(q.urls[k], amqp.Config{Dial: amqp.DefaultDial(5 * time.Second), Heartbeat: 10 * time.Second})
		if err == nil {
			q.next = k
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(q.urls) == 0 {
		return nil, errors.New("rabbitmq: no broker URL")
	}
	q.next = (q.next + 1) % len(q.urls) // the node that failed is tried last next time
	return nil, errors.Join(errs...)
}

// DeadLetter is the dead-letter queue's name.
func (q *Queue) DeadLetter() string { return q.name + ".dlq" }

func (q *Queue) connect() (*amqp.Connection, error) {
	if q.conn != nil && !q.conn.IsClosed() {
		return q.conn, nil
	}
	conn, err := q.dial()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: connect: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("rabbitmq: channel: %w", err)
	}
	defer ch.Close()
	quorum := amqp.Table{"x-queue-type": "quorum"}
	if _, err := ch.QueueDeclare(q.DeadLetter(), true, false, false, false, quorum); err != nil {
		conn.Close()
		return nil, fmt.Errorf("rabbitmq: declare %s: %w", q.DeadLetter(), err)
	}
	args := amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(queue.MaxDeliveries),
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q.DeadLetter()}
	if _, err := ch.QueueDeclare(q.name, true, false, false, false, args); err != nil {
		conn.Close()
		return nil, fmt.Errorf("rabbitmq: declare %s: %w", q.name, err)
	}
	q.conn, q.pub = conn, nil
	return conn, nil
}

// groupSize bounds the jobs of one message.
const groupSize = 16

// groups cuts ids into messages of up to size jobs each.
func groups(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		n := min(len(ids), size)
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	return out
}

// jobIDs reads a message's job IDs, one per line.
func jobIDs(body []byte) []string {
	var ids []string
	for _, id := range strings.Split(string(body), "\n") {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// Publish implements queue.Queue with publisher confirms, the jobs in
// messages of up to groupSize.
func (q *Queue) Publish(ctx context.Context, ids ...string) error {
	return q.publish(ctx, groupSize, ids)
}

// publish sends ids in messages of up to size jobs and waits for the
// broker's confirms of them all.
func (q *Queue) publish(ctx context.Context, size int, ids []string) error {
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return fmt.Errorf("rabbitmq: job ID %q is empty or holds a line break", id)
		}
	}
	// Publish them all, then wait for the confirms: one round trip to the
	// broker's disk for the lot instead of one per message. The wait is
	// outside the lock, so that several relays' pages are confirmed
	// together.
	msgs := groups(ids, size)
	ch, confirms, err := q.send(ctx, msgs)
	if err != nil {
		return err
	}
	for i, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			q.mu.Lock()
			if q.pub == ch {
				q.pub = nil
			}
			q.mu.Unlock()
			return fmt.Errorf("rabbitmq: confirm %s: %w", msgs[i][0], err)
		}
		if !ok {
			return fmt.Errorf("rabbitmq: the broker refused job %s (nack)", strings.Join(msgs[i], ", "))
		}
	}
	return nil
}

// send publishes msgs, one message each, on the confirming channel (opened
// if need be) and returns it and their confirmations.
func (q *Queue) send(ctx context.Context, msgs [][]string) (*amqp.Channel, []*amqp.DeferredConfirmation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	conn, err := q.connect()
	if err != nil {
		return nil, nil, err
	}
	if q.pub == nil || q.pub.IsClosed() {
		ch, err := conn.Channel()
		if err != nil {
			return nil, nil, fmt.Errorf("rabbitmq: channel: %w", err)
		}
		if err := ch.Confirm(false); err != nil {
			ch.Close()
			return nil, nil, fmt.Errorf("rabbitmq: confirm mode: %w", err)
		}
		q.pub = ch
	}
	confirms := make([]*amqp.DeferredConfirmation, len(msgs))
	headers := traceHeaders(ctx)
	for i, m := range msgs {
		dc, err := q.pub.PublishWithDeferredConfirmWithContext(ctx, "", q.name, true, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "text/plain", MessageId: m[0],
			Body: []byte(strings.Join(m, "\n")), Headers: headers})
		if err != nil {
			q.pub = nil
			return nil, nil, fmt.Errorf("rabbitmq: publish %s: %w", m[0], err)
		}
		confirms[i] = dc
	}
	return q.pub, confirms, nil
}

// traceHeaders are a publishing's W3C trace context while tracing is on:
// the worker's delivery span continues the publisher's trace.
func traceHeaders(ctx context.Context) amqp.Table {
	c := tracing.Inject(ctx)
	if c == nil {
		return nil
	}
	t := make(amqp.Table, len(c))
	for k, v := range c {
		t[k] = v
	}
	return t
}

// deliverySpan starts the span of handling a delivery while tracing is on,
// a child of the publisher's span its headers carry.
func deliverySpan(ctx context.Context, queue string, d amqp.Delivery, jobs int) (context.Context, trace.Span) {
	if !tracing.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	c := tracing.Carrier{}
	for k, v := range d.Headers {
		if s, ok := v.(string); ok {
			c[k] = s
		}
	}
	return tracing.Span(tracing.Extract(ctx, c), queue+" process", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "rabbitmq"), attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", d.MessageId), attribute.Bool("messaging.rabbitmq.redelivered", d.Redelivered),
			attribute.Int("soccerpredict.jobs", jobs)))
}

// Consume implements queue.Queue, reconnecting with backoff until ctx ends.
func (q *Queue) Consume(ctx context.Context, handle func(context.Context, string) error) error {
	return reconnecting(ctx, func(ctx context.Context) error { return q.consumeOnce(ctx, handle) })
}

// reconnecting runs once until ctx ends, again after each failure (the broker
// went away), with a backoff growing to 5 s.
func reconnecting(ctx context.Context, once func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := once(ctx); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
	return ctx.Err()
}

// consumer opens a channel that receives queue name's deliveries, at most
// prefetch unacknowledged at a time; close the channel after.
func (q *Queue) consumer(ctx context.Context, name string, prefetch int) (*amqp.Channel, <-chan amqp.Delivery, error) {
	q.mu.Lock()
	conn, err := q.connect()
	q.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, err
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, nil, err
	}
	deliveries, err := ch.ConsumeWithContext(ctx, name, "", false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, nil, err
	}
	return ch, deliveries, nil
}

// messages is how many messages a worker holding prefetch jobs takes at a
// time: enough full groups for two rounds of its jobs, and at least four
// messages, so that messages of one job (light load) still keep it busy.
func messages(prefetch int) int {
	return max(4, 2*prefetch/groupSize)
}

func (q *Queue) consumeOnce(ctx context.Context, handle func(context.Context, string) error) error {
	ch, deliveries, err := q.consumer(ctx, q.name, messages(q.prefetch))
	if err != nil {
		return err
	}
	defer ch.Close()
	// Up to prefetch jobs are worked at once, so their predictions coalesce
	// into shared plugin calls; a message is acknowledged (or returned)
	// once the handlers of all its jobs are done.
	var (
		wg      sync.WaitGroup
		slots   = make(chan struct{}, max(1, q.prefetch))
		errOnce sync.Once
		ackErr  error
		failed  = make(chan struct{})
	)
	fail := func(err error) { errOnce.Do(func() { ackErr = err; close(failed) }) }
	defer wg.Wait()
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case d, ok = <-deliveries:
		case <-failed:
			return ackErr
		}
		if !ok {
			break
		}
		ids := jobIDs(d.Body)
		switch {
		case len(ids) == 0:
			if err := d.Ack(false); err != nil { // carries no job
				return err
			}
			continue
		case len(ids) > 1 && d.Redelivered:
			// Back from a worker that stopped or died holding it: split, so
			// that each job's deliveries are its own from now on.
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := q.publish(ctx, 1, ids); err != nil {
					fail(fmt.Errorf("rabbitmq: split a returned message: %w", err)) // the channel closes; the message comes back
					return
				}
				if err := d.Ack(false); err != nil {
					fail(err)
				}
			}()
			continue
		}
		hctx, span := deliverySpan(ctx, q.name, d, len(ids))
		var left atomic.Int32
		var anyFailed atomic.Bool
		left.Store(int32(len(ids)))
		for _, id := range ids {
			select {
			case slots <- struct{}{}:
			case <-failed:
				return ackErr
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := handle(hctx, id)
				<-slots
				if err != nil {
					anyFailed.Store(true)
					tracing.Fail(span, err)
				}
				if left.Add(-1) > 0 {
					return
				}
				span.End()
				if anyFailed.Load() {
					// Back to the queue; the quorum queue's delivery limit dead-letters a job that keeps failing.
					if nerr := d.Nack(false, true); nerr != nil {
						fail(nerr)
					}
					return
				}
				if err := d.Ack(false); err != nil {
					fail(err)
				}
			}()
		}
	}
	wg.Wait()
	if ackErr != nil {
		return ackErr
	}
	return errors.New("rabbitmq: deliveries closed")
}

// ConsumeDead implements queue.Queue: it works the dead-letter queue, one
// message at a time, reconnecting like Consume.
func (q *Queue) ConsumeDead(ctx context.Context, handle func(context.Context, string) error) error {
	return reconnecting(ctx, func(ctx context.Context) error { return q.consumeDeadOnce(ctx, handle) })
}

func (q *Queue) consumeDeadOnce(ctx context.Context, handle func(context.Context, string) error) error {
	ch, deliveries, err := q.consumer(ctx, q.DeadLetter(), 1)
	if err != nil {
		return err
	}
	defer ch.Close()
	for d := range deliveries {
		var failed error
		for _, id := range jobIDs(d.Body) {
			if err := handle(ctx, id); err != nil {
				failed = err
				break // the message comes back whole; a job handled already is handled again
			}
		}
		if failed != nil {
			if nerr := d.Nack(false, true); nerr != nil {
				return nerr
			}
			select { // do not spin on a store that is down
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		}
		if err := d.Ack(false); err != nil {
			return err
		}
	}
	return errors.New("rabbitmq: dead-letter deliveries closed")
}

// Close closes the connection.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn != nil {
		return q.conn.Close()
	}
	return nil
}

// Purge deletes the queue and its dead-letter queue (tests).
func (q *Queue) Purge() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	conn, err := q.connect()
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	_, err1 := ch.QueueDelete(q.name, false, false, false)
	_, err2 := ch.QueueDelete(q.DeadLetter(), false, false, false)
	return errors.Join(err1, err2)
}
