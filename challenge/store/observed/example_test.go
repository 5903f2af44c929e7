package observed_test

import (
	"context"
	"fmt"
	"time"

	"github.com/enumgate/enumgate/challenge/store"
	"github.com/enumgate/enumgate/challenge/store/memory"
	"github.com/enumgate/enumgate/challenge/store/observed"
)

func ExampleWrap() {
	mem := memory.New(memory.Options{})
	defer mem.Close()
	s := observed.Wrap(mem, func(op string, d time.Duration, err error) {
		// A real observer feeds a latency histogram with d.
		fmt.Println(op, observed.Result(err))
	})
	_, err := s.Get(context.Background(), "no-such-challenge", store.Owner{User: "alice"}, time.Now())
	fmt.Println(err)
	// Output:
	// get refused
	// challenge not found
}

func ExampleAs() {
	mem := memory.New(memory.Options{})
	defer mem.Close()
	var s store.Store = observed.Wrap(mem, nil)
	if p, ok := observed.As[interface{ Pending(time.Time) int }](s); ok {
		fmt.Println("pending:", p.Pending(time.Now()))
	}
	// Output:
	// pending: 0
}
