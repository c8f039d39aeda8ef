package ember

// The C-callable side of Generator.Generate's per-token callback. A file with //export
// may only declare C functions in its preamble; the trampoline is defined in lm.go.

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// emberGoTokenCallback is ember_token_callback's Go end: handle is the cgo.Handle of a
// *callbackState. A panic of the Go callback is caught here (it must not unwind through
// the library's C++ frames), kept, and re-raised by Generate after the C call returns;
// the library is asked to stop.
//
//export emberGoTokenCallback
func emberGoTokenCallback(handle C.uintptr_t, token C.int32_t, piece *C.char, pieceLen C.size_t) (stop C.int32_t) {
	state := cgo.Handle(handle).Value().(*callbackState)
	returned := false
	defer func() {
		if !returned {
			state.panic = recover()
			if state.panic == nil { // panic(nil)
				state.panic = "ember: the token callback panicked with nil"
			}
			stop = 1
		}
	}()
	var text string
	if pieceLen > 0 {
		text = string(unsafe.Slice((*byte)(unsafe.Pointer(piece)), int(pieceLen)))
	}
	cont := state.fn(int32(token), text)
	returned = true
	if !cont {
		return 1
	}
	return 0
}
