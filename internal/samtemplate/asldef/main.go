// Command asldef prints a state machine's definition from a SAM template as
// JSON, its DefinitionSubstitutions made as the local stack makes them
// (sfnlocal.DefinitionFromTemplate: functions' ARNs), for asl-validator:
// cfn-lint does not look inside an AWS::Serverless::StateMachine's
// Definition.
//
//	go run ./internal/samtemplate/asldef template.yaml ApplyStateMachine
package main

import (
	"fmt"
	"os"

	"dirsync/local/sfnlocal"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: asldef TEMPLATE STATE_MACHINE_LOGICAL_ID")
		os.Exit(2)
	}
	def, err := sfnlocal.DefinitionFromTemplate(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(def, '\n'))
}
