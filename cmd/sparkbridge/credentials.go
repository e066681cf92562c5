package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/sparkbridge/sparkbridge/auth"
)

func authProvider(mode, usersFile string) (auth.Provider, error) {
	switch strings.ToUpper(mode) {
	case "NONE":
		if usersFile != "" {
			return nil, fmt.Errorf("-users-file is set but -auth is NONE; use -auth FILE")
		}
		return auth.None{}, nil
	case "FILE":
		if usersFile == "" {
			return nil, fmt.Errorf("-auth FILE needs -users-file")
		}
		return auth.LoadFile(usersFile)
	}
	return nil, fmt.Errorf("unknown -auth %q: want NONE or FILE", mode)
}

// credentialTool prints users-file entries: `sparkbridge hash-password` reads a password on
// standard input and prints its hash; `sparkbridge new-token` prints a new token and the
// line that stores it.
func credentialTool(cmd string, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%s takes no arguments", cmd)
	}
	switch cmd {
	case "hash-password":
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("hash-password reads the password from standard input: %w", err)
		}
		hash, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
		if err != nil {
			return err
		}
		fmt.Println(hash)
	case "new-token":
		token, stored, err := auth.NewToken()
		if err != nil {
			return err
		}
		fmt.Printf("token (give to the user): %s\nusers file entry:          %s\n", token, stored)
	}
	return nil
}
