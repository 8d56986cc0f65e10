//go:build !linux

package main

func nullStdio() {}
