//go:build !linux

package redisstore_test

import "syscall"

// dieWithParent has no portable equivalent outside Linux: Cleanup stops the
// server.
func dieWithParent() *syscall.SysProcAttr { return nil }
