package redisstore_test

import "syscall"

// dieWithParent has the kernel kill a server the test started when the test
// process dies, so that no redis-server outlives an interrupted test run.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
