package main

// shimMain is replaced when the shim lands (internal/runtime/shim.Main).
func shimMain(args []string) int { return 2 }
