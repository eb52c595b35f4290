//go:build unix

package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// newAnswerRegion makes a region and the file that shares it (the caller
// sends the file and closes it).
func newAnswerRegion() (*answerRegion, *os.File, error) {
	f, err := os.CreateTemp("", "soccerpredict-answers-")
	if err != nil {
		return nil, nil, err
	}
	os.Remove(f.Name()) // the open file and the mappings keep it
	if err := f.Truncate(answerRegionSize); err != nil {
		f.Close()
		return nil, nil, err
	}
	r, err := mapAnswerRegion(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// mapAnswerRegion maps a region's file, which must be exactly its size.
func mapAnswerRegion(fd int) (*answerRegion, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Size != answerRegionSize {
		return nil, fmt.Errorf("an answer region of %d bytes, not %d", st.Size, answerRegionSize)
	}
	mem, err := syscall.Mmap(fd, 0, answerRegionSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &answerRegion{mem: mem}, nil
}

func (r *answerRegion) close() {
	if r != nil && r.mem != nil {
		syscall.Munmap(r.mem)
		r.mem = nil
	}
}

// sendWithFile writes b on conn with f's descriptor attached.
func sendWithFile(conn net.Conn, b []byte, f *os.File) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("not a Unix socket")
	}
	n, oobn, err := uc.WriteMsgUnix(b, syscall.UnixRights(int(f.Fd())), nil)
	if err == nil && (n != len(b) || oobn == 0) {
		err = errors.New("a short write")
	}
	return err
}

// fileReader reads a Unix socket, keeping the descriptors that arrive with
// its data (only an attach frame carries one).
type fileReader struct {
	c   *net.UnixConn
	oob []byte
	fds []int
	// plain: no descriptor is expected any more; plain reads.
	plain bool
}

func newFileReader(conn net.Conn) io.Reader {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return conn
	}
	return &fileReader{c: uc, oob: make([]byte, syscall.CmsgSpace(4*4))}
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.plain {
		return r.c.Read(p)
	}
	n, oobn, _, _, err := r.c.ReadMsgUnix(p, r.oob)
	if oobn > 0 {
		if msgs, perr := syscall.ParseSocketControlMessage(r.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, ferr := syscall.ParseUnixRights(&m); ferr == nil {
					r.fds = append(r.fds, fds...)
				}
			}
		}
	}
	return n, err
}

// takeFD returns the descriptor that came with the data read so far, closing
// any others, and reads plainly from then on; -1 when none came.
func takeFD(rd io.Reader) int {
	r, ok := rd.(*fileReader)
	if !ok {
		return -1
	}
	r.plain = true
	fd := -1
	for _, f := range r.fds {
		if fd < 0 {
			fd = f
		} else {
			syscall.Close(f)
		}
	}
	r.fds = nil
	return fd
}

func closeFD(fd int) { syscall.Close(fd) }
