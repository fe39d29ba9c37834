package tablestore

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// maxCachedHeads bounds the chain heads a Store remembers. Chains are an
// organisation's month (plus the shards of no organisation), so a few
// thousand cover the chains a month's traffic appends to.
const maxCachedHeads = 4096

// cachedHead is a chain's head as this process last wrote or read it, with
// the ETag that makes the next append's If-Match.
type cachedHead struct {
	head auditHeadEntity
	etag azcore.ETag
}

// headCache remembers chain heads so an append skips the head's read. It
// is only a hint: an append still moves the head under If-Match, so a
// stale entry (another instance appended since) costs one failed
// transaction and a re-read, never a fork or a duplicate.
type headCache struct {
	mu    sync.Mutex
	heads map[string]cachedHead
}

func (c *headCache) get(chain string) (cachedHead, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.heads[chain]
	return h, ok
}

// put remembers a head unless the cache already holds a later one (two
// appends of this process may finish out of order). A full cache drops an
// arbitrary entry.
func (c *headCache) put(chain string, h cachedHead) {
	if h.etag == "" {
		c.drop(chain)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.heads[chain]; ok && old.head.Seq > h.head.Seq {
		return
	}
	if c.heads == nil {
		c.heads = map[string]cachedHead{}
	}
	if _, ok := c.heads[chain]; !ok && len(c.heads) >= maxCachedHeads {
		for k := range c.heads {
			delete(c.heads, k)
			break
		}
	}
	c.heads[chain] = h
}

func (c *headCache) drop(chain string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.heads, chain)
}

// transactionETag returns the ETag of the operation at index in a
// transaction's response (captured with runtime.WithCaptureResponse), or
// "" if the response does not say. aztables v1.4.1 discards the
// per-operation responses (its TransactionResponse is empty), but each one
// carries the new ETag of the entity it wrote, in the order the operations
// were sent. The body is read as aztables reads it: a batch part holding
// one change set, each boundary named by its body's first line.
func transactionETag(resp *http.Response, index int) azcore.ETag {
	if resp == nil {
		return ""
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return ""
	}
	changeSet, err := multipart.NewReader(bytes.NewReader(body), boundaryOf(body)).NextPart()
	if err != nil {
		return ""
	}
	inner, err := io.ReadAll(changeSet)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return ""
	}
	parts := multipart.NewReader(bytes.NewReader(inner), boundaryOf(inner))
	for i := 0; ; i++ {
		p, err := parts.NextPart()
		if err != nil {
			return ""
		}
		if i < index {
			continue
		}
		// The part may end at its headers' last line: close the block.
		b, err := io.ReadAll(p)
		if err != nil {
			return ""
		}
		r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(b, "\r\n\r\n"...))), nil)
		if err != nil || r.StatusCode >= 300 {
			return ""
		}
		return azcore.ETag(r.Header.Get("ETag"))
	}
}

// boundaryOf is the multipart boundary a body opens with ("--<boundary>").
func boundaryOf(body []byte) string {
	line, _, _ := bytes.Cut(body, []byte("\n"))
	return strings.TrimPrefix(strings.TrimSpace(string(line)), "--")
}
