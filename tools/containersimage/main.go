// Command cimage-pull pulls one image the way CRI-O and podman do: containers/image's copy.Image from
// docker://<reference> into a dir: directory, under the machine's signature policy
// (/etc/containers/policy.json), its registries.d (whether to read sigstore attachments) and its
// certs.d (the registry's CA). Tests run it where Debian's podman and skopeo cannot show a good
// sigstore signature accepted: their containers/image is built with sigstore verification disabled.
//
//	cimage-pull <reference> <directory>
//
// It exits 0 when the image was copied, and 1 with containers/image's error otherwise.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/types"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cimage-pull <reference> <directory>")
		os.Exit(2)
	}
	if err := pull(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func pull(reference, out string) error {
	sys := &types.SystemContext{}
	policy, err := signature.DefaultPolicy(sys)
	if err != nil {
		return err
	}
	policyContext, err := signature.NewPolicyContext(policy)
	if err != nil {
		return err
	}
	defer func() { _ = policyContext.Destroy() }()
	src, err := docker.ParseReference("//" + reference)
	if err != nil {
		return err
	}
	dest, err := directory.NewReference(out)
	if err != nil {
		return err
	}
	_, err = copy.Image(context.Background(), policyContext, dest, src, &copy.Options{SourceCtx: sys, DestinationCtx: sys})
	return err
}
