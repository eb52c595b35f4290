//go:build !unix

package wire

import (
	"errors"
	"io"
	"net"
	"os"
)

var errNoRegions = errors.New("no shared answer regions on this system")

func newAnswerRegion() (*answerRegion, *os.File, error) { return nil, nil, errNoRegions }

func mapAnswerRegion(int) (*answerRegion, error) { return nil, errNoRegions }

func (r *answerRegion) close() {}

func sendWithFile(net.Conn, []byte, *os.File) error { return errNoRegions }

func newFileReader(conn net.Conn) io.Reader { return conn }

func takeFD(io.Reader) int { return -1 }

func closeFD(int) {}
