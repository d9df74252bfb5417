// Command lambdarie builds the pinned AWS Lambda Runtime Interface Emulator
// (go.mod's tool github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie)
// into .build/tools, unless it is there already, and prints its path:
//
//	go run ./local/lambdalocal/cmd/lambdarie
//
// Tests and the local stack build it on demand anyway; this is for a
// Makefile target or a developer who wants the binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"dirsync/local/dynamolocal"
	"dirsync/local/lambdalocal"
)

func main() {
	root := flag.String("root", "", "module root (the folder of go.mod); default: found from the working directory")
	flag.Parse()
	if *root == "" {
		r, err := dynamolocal.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		*root = r
	}
	path, err := lambdalocal.EnsureEmulator(context.Background(), *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
