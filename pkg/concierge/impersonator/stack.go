// SPDX-License-Identifier: Apache-2.0

package impersonator

// requestStackFrame is the frame growStack asks for. The HTTP/2 server runs each request
// on a new goroutine with a small stack; the proxy's handler chain (Kubernetes' filters,
// then the reverse proxy) then outgrows it in two or three steps, and each step copies
// the stack and adjusts every frame on it, the deeper the dearer (about 4 % of the
// proxy's CPU). Growing it once, while only a few frames are on it, does the same work
// at a fraction of the cost.
const requestStackFrame = 16 << 10

// growStack makes the goroutine's stack big enough for the handler chain at once.
//
//go:noinline
func growStack() byte {
	var frame [requestStackFrame]byte
	return lastByte(frame[:])
}

// lastByte keeps growStack's frame from being optimised away.
//
//go:noinline
func lastByte(b []byte) byte { return b[len(b)-1] }
