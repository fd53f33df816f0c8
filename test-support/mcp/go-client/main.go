// A scripted MCP client on the Go SDK (github.com/modelcontextprotocol/go-sdk v1.8.0),
// for the gateway's tests (runtime/tests/mcp_go.rs builds and runs it).
//
//	go-client URL VERSION TOOL...
//
// VERSION is the protocol version the client asks for: 2026-07-28 (the SDK discovers
// and uses the stateless revision, opening subscriptions/listen for list changes) or
// 2025-11-25 (initialize, a session, the GET stream). It prints one JSON line with what
// it saw: the version, the tools listed, the text of a call to each TOOL with
// {"imo":"1"}, the progress of `count`, whether cancelling `wait` worked. Then it waits
// for a line on stdin (the test swaps the gateway's table meanwhile) and prints a second
// line: whether it heard of the change and the tools listed then.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type report struct {
	ProtocolVersion string            `json:"protocolVersion,omitempty"`
	Server          string            `json:"server,omitempty"`
	Tools           []string          `json:"tools,omitempty"`
	Calls           map[string]string `json:"calls,omitempty"`
	Progress        []float64         `json:"progress,omitempty"`
	Counted         string            `json:"counted,omitempty"`
	Cancelled       bool              `json:"cancelled,omitempty"`
	ListChanged     bool              `json:"listChanged,omitempty"`
	Error           string            `json:"error,omitempty"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-client URL VERSION TOOL...")
		os.Exit(2)
	}
	url, version, tools := os.Args[1], os.Args[2], os.Args[3:]
	var mu sync.Mutex
	var progress []float64
	changed := make(chan struct{}, 16)
	client := mcp.NewClient(&mcp.Implementation{Name: "skipper-go-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			changed <- struct{}{}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	fail := func(stage string, err error) {
		_ = out.Encode(report{Error: fmt.Sprintf("%s: %v", stage, err)})
		os.Exit(1)
	}
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		fail("connect", err)
	}
	defer session.Close()
	r := report{Calls: map[string]string{}}
	if init := session.InitializeResult(); init != nil {
		r.ProtocolVersion = init.ProtocolVersion
		if init.ServerInfo != nil {
			r.Server = init.ServerInfo.Name
		}
	}
	names := func() []string {
		listed, err := session.ListTools(ctx, nil)
		if err != nil {
			fail("tools/list", err)
		}
		var names []string
		for _, tool := range listed.Tools {
			names = append(names, tool.Name)
		}
		return names
	}
	r.Tools = names()
	for _, tool := range tools {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"imo": "1"}})
		if err != nil {
			fail("tools/call "+tool, err)
		}
		r.Calls[tool] = text(res)
	}
	count := &mcp.CallToolParams{Name: "count", Arguments: map[string]any{"n": 3, "delay_ms": 100}}
	count.SetProgressToken("go-progress")
	res, err := session.CallTool(ctx, count)
	if err != nil {
		fail("tools/call count", err)
	}
	r.Counted = text(res)
	// The SDK runs notification handlers on their own goroutines, so the last progress
	// handler may still be running when the call returns (the gateway sent it first).
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(progress)
		mu.Unlock()
		if n >= 3 {
			break
		}
	}
	mu.Lock()
	r.Progress = progress
	mu.Unlock()
	short, stop := context.WithTimeout(ctx, time.Second)
	_, err = session.CallTool(short, &mcp.CallToolParams{Name: "wait", Arguments: map[string]any{"seconds": 30, "tag": "go-" + version}})
	stop()
	r.Cancelled = errors.Is(err, context.DeadlineExceeded)
	_ = out.Encode(r)

	// The test swaps the table, then writes a line.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	second := report{}
	select {
	case <-changed:
		second.ListChanged = true
	case <-time.After(10 * time.Second):
	}
	second.Tools = names()
	_ = out.Encode(second)
}

func text(res *mcp.CallToolResult) string {
	for _, content := range res.Content {
		if t, ok := content.(*mcp.TextContent); ok {
			return t.Text
		}
	}
	return ""
}
