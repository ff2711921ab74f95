// Command tcpthroughput measures TCP throughput between two containers
// for bench/bench.sh: "tcpthroughput serve PORT" discards what each
// connection sends; "tcpthroughput send ADDR MIB" sends MIB mebibytes to
// ADDR and prints MB/s. Built static, it runs in the busybox test image,
// whose nc moves ~50 MB/s and would measure itself rather than the
// network.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: tcpthroughput serve PORT | send ADDR MIB")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "send":
		if len(os.Args) < 4 {
			err = fmt.Errorf("send needs ADDR and MIB")
			break
		}
		err = send(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpthroughput:", err)
		os.Exit(1)
	}
}

func serve(port string) error {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

func send(addr, mib string) error {
	n, err := strconv.Atoi(mib)
	if err != nil || n <= 0 {
		return fmt.Errorf("bad size %q", mib)
	}
	var c net.Conn
	for i := 0; ; i++ { // the server may still be starting
		if c, err = net.Dial("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	total := int64(n) << 20
	start := time.Now()
	for sent := int64(0); sent < total; {
		w, err := c.Write(buf[:min(int64(len(buf)), total-sent)])
		if err != nil {
			return err
		}
		sent += int64(w)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, c) // the server closes once it read everything
	fmt.Printf("%.0f\n", float64(total)/1e6/time.Since(start).Seconds())
	return nil
}
