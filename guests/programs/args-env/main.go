// args-env: command-line arguments and environment variables passed by the host through WASI
// args_get/environ_get. Prints os.Args[1:] quoted (one argument contains a space, one is
// non-ASCII) and a fixed set of variables, one of which is set to the empty string and one of
// which is unset. os.Args[0] is not printed: hosts name the program differently.
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	fmt.Printf("args: %d\n", len(args))
	for i, a := range args {
		fmt.Printf("arg %d: %q (%d bytes)\n", i+1, a, len(a))
	}
	for _, k := range []string{"FIXTURE_GREETING", "FIXTURE_UNICODE", "FIXTURE_EMPTY", "FIXTURE_UNSET"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("env %s=%q\n", k, v)
		} else {
			fmt.Printf("env %s is unset\n", k)
		}
	}
}
