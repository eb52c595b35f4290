package wire

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// Answers in shared memory: on a fast-path connection the host may attach a
// small shared memory region (a file it sends over the socket, see
// fastAttach). Before each call it says in the region whether it is
// waiting there: for the process's one call in flight, when answers
// recently came back within spinMax, it watches the region instead of
// sleeping on the socket, and the plugin puts its answer there, with no
// system call on either side. On a
// virtual machine a system call and the wake-up of a sleeping process each
// cost microseconds; an answer that goes through the socket costs a
// write, an epoll wait and one or two reads, and the wake-up of the host.
//
// The region's first word is the call's state; exactly one side moves it
// out of answerWatched, by compare-and-swap:
//
//	answerWatched → answerHere      the plugin: the answer is in the region
//	answerWatched → answerOnSocket  the plugin: the answer is too large; read the socket
//	answerWatched → answerSleeping  the host: it stopped watching; answer on the socket
//
// An answer written on the socket is the frame it always was, so a plugin
// that has the region but finds the host asleep answers as before.
const (
	answerIdle     uint32 = 0
	answerWatched  uint32 = 1
	answerSleeping uint32 = 2
	answerHere     uint32 = 3
	answerOnSocket uint32 = 4
)

// answerHeader is the region's bytes before an answer: the state (4 bytes)
// and the answer's length (4 bytes), padded to a cache line.
const answerHeader = 64

// answerRegionSize is the region's size; an answer larger than the rest
// goes through the socket.
const answerRegionSize = 256 << 10

// spinMax bounds how long the host watches the region for one answer. A
// call whose recent watched answers took longer (a large batch) sleeps on
// the socket at once, but for one in probeEvery, which watches to see
// whether answers are quick again. (A variable for the tests, which run
// slower under -race.)
var spinMax = 100 * time.Microsecond

// answerRegion is a mapped region, seen by both processes.
type answerRegion struct {
	mem []byte
}

func (r *answerRegion) state() *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[0])) }
func (r *answerRegion) size() *uint32  { return (*uint32)(unsafe.Pointer(&r.mem[4])) }

// room is the largest answer the region holds.
func (r *answerRegion) room() int { return len(r.mem) - answerHeader }

// expect sets the state for the next call: watched or sleeping.
func (r *answerRegion) expect(watch bool) {
	if watch {
		atomic.StoreUint32(r.state(), answerWatched)
	} else {
		atomic.StoreUint32(r.state(), answerSleeping)
	}
}

// await watches the region for up to spinMax and copies an answer found
// there into *buf; ok false: read the answer from the socket. Other
// goroutines run between looks.
func (r *answerRegion) await(buf *[]byte) (answer []byte, ok bool, err error) {
	start := time.Now()
	for {
		s := atomic.LoadUint32(r.state())
		if s != answerWatched {
			return r.take(s, buf)
		}
		if time.Since(start) > spinMax {
			if atomic.CompareAndSwapUint32(r.state(), answerWatched, answerSleeping) {
				return nil, false, nil
			}
			return r.take(atomic.LoadUint32(r.state()), buf)
		}
		runtime.Gosched()
	}
}

func (r *answerRegion) take(state uint32, buf *[]byte) ([]byte, bool, error) {
	switch state {
	case answerOnSocket:
		return nil, false, nil
	case answerHere:
	default:
		return nil, false, fmt.Errorf("the plugin left its answer region in state %d", state)
	}
	n := int(atomic.LoadUint32(r.size()))
	if n > r.room() {
		return nil, false, fmt.Errorf("the plugin's answer region says %d bytes, over its %d", n, r.room())
	}
	*buf = append((*buf)[:0], r.mem[answerHeader:answerHeader+n]...)
	atomic.StoreUint32(r.state(), answerIdle)
	return *buf, true, nil
}

// offer is the plugin's side: it puts answer (a code byte and the message)
// in the region when the host is watching and it fits, and says whether it
// did; false: write it on the socket.
func (r *answerRegion) offer(answer []byte) bool {
	if atomic.LoadUint32(r.state()) != answerWatched {
		return false
	}
	if len(answer) > r.room() {
		atomic.CompareAndSwapUint32(r.state(), answerWatched, answerOnSocket)
		return false
	}
	copy(r.mem[answerHeader:], answer)
	atomic.StoreUint32(r.size(), uint32(len(answer)))
	return atomic.CompareAndSwapUint32(r.state(), answerWatched, answerHere)
}
