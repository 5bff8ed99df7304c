package client

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hutchdev/hutch/api"
)

// Output receives a streamed command's output as it arrives: stream is
// "stdout" or "stderr".
type Output func(stream, data string)

// readEvents parses a text/event-stream body, calling out for stdout and
// stderr events and decoding the exit event's data into exit (when not
// nil). It returns whether an exit event came.
func readEvents(body io.Reader, out Output, exit any) (bool, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "" {
				continue
			}
			done, err := dispatch(event, data, out, exit)
			if err != nil || done {
				return done, err
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(line[len("data:"):], " ")
		}
	}
	return false, sc.Err()
}

func dispatch(event, data string, out Output, exit any) (bool, error) {
	switch event {
	case "stdout", "stderr":
		var c api.OutputChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return false, fmt.Errorf("decode %s event: %w", event, err)
		}
		if out != nil {
			out(event, c.Data)
		}
	case "exit":
		if exit != nil {
			if err := json.Unmarshal([]byte(data), exit); err != nil {
				return false, fmt.Errorf("decode exit event: %w", err)
			}
		}
		return true, nil
	}
	return false, nil
}
