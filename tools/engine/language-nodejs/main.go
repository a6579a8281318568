// Command pulumi-language-nodejs is the test tier's Node.js language host: the part of Pulumi that the
// engine asks to run a Node.js program. Pulumi's own host is a separate Go module that the module proxy
// these machines reach does not serve, so this one is ours. It does only what `pulumi preview`, `up`,
// `destroy` and `refresh` need: it answers which resource plugins the program's node_modules ask for,
// and runs the program with the @pulumi/pulumi SDK's own runner (`@pulumi/pulumi/cmd/run`), which
// loads ts-node, talks to the engine's resource monitor and registers every resource itself. Everything
// the program does therefore goes through the real SDK and the real engine; this host only starts it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is stamped at build time with the CLI's version, as Pulumi stamps its bundled hosts.
var version string

// exitAfterReportedError is the exit code the SDK's runner uses after it has already shown the user
// an error (cmd/run/index.js nodeJSProcessExitedAfterLoggingUserActionableMessage): the engine must
// not print a second, less useful one.
const exitAfterReportedError = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	if version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-language-nodejs: built without a version (-ldflags -X main.version=...)")
		os.Exit(1)
	}
	// The engine passes flags of its own (tracing, logging) before its address, which is the last
	// argument; none of the flags change what this host does.
	h := &host{}
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			h.engineAddress = arg
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPackages lists the resource plugins that the packages in node_modules declare
// (`"pulumi": {"resource": true, "name": …, "version": …}` in their package.json), as Pulumi's host
// does, so that the engine loads exactly those versions and fails up front when one is not installed.
func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := resourcePlugins(filepath.Join(req.GetInfo().GetProgramDirectory(), "node_modules"))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	packages, err := h.GetRequiredPackages(ctx, &pulumirpc.GetRequiredPackagesRequest{Info: req.GetInfo()})
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(packages.GetPackages()))
	for _, p := range packages.GetPackages() {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

type packageJSON struct {
	Pulumi struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
	} `json:"pulumi"`
}

// resourcePlugins reads the package.json of each top-level and scoped package in dir.
func resourcePlugins(dir string) ([]*pulumirpc.PackageDependency, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: run `npm ci` in the project first", dir)
	}
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			scoped, _ := os.ReadDir(filepath.Join(dir, e.Name()))
			for _, s := range scoped {
				files = append(files, filepath.Join(dir, e.Name(), s.Name(), "package.json"))
			}
			continue
		}
		files = append(files, filepath.Join(dir, e.Name(), "package.json"))
	}
	sort.Strings(files)
	var deps []*pulumirpc.PackageDependency
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var pkg packageJSON
		if json.Unmarshal(data, &pkg) != nil || !pkg.Pulumi.Resource {
			continue
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Kind: "resource", Name: pkg.Pulumi.Name, Version: pkg.Pulumi.Version,
		})
	}
	return deps, nil
}

// Run starts `node <@pulumi/pulumi/cmd/run> … <program>` in the program's directory with the stack's
// config in the environment, exactly the interface the SDK's runner reads (cmd/run/index.js: its flags;
// runtime/config.js: PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS), and waits for it.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd()
	}
	runner, err := resolveModule(ctx, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return nil, err
	}
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args := []string{
		runner,
		"--monitor=" + req.GetMonitorAddress(),
		"--engine=" + h.engineAddress,
		"--project=" + req.GetProject(),
		"--stack=" + req.GetStack(),
		"--pwd=" + req.GetPwd(),
		"--root-directory=" + req.GetInfo().GetRootDirectory(),
		"--parallel=" + strconv.Itoa(int(req.GetParallel())),
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization="+req.GetOrganization())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	configJSON, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	env = append(env, optionEnvironment(req.GetInfo())...)

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == exitAfterReportedError:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
}

// optionEnvironment turns Pulumi.yaml's `runtime.options` into the variables the SDK's runner reads:
// `typescript` (default true) and `tsconfig`, as Pulumi's host passes them.
func optionEnvironment(info *pulumirpc.ProgramInfo) []string {
	typescript := true
	var env []string
	if options := info.GetOptions(); options != nil {
		fields := options.GetFields()
		if v, ok := fields["typescript"]; ok {
			typescript = v.GetBoolValue()
		}
		if v, ok := fields["tsconfig"]; ok && v.GetStringValue() != "" {
			env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v.GetStringValue())
		}
	}
	return append(env, "PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript))
}

// resolveModule asks node where a module resolves from dir, so the program's own copy of the SDK runs.
func resolveModule(ctx context.Context, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "node", "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", status.Errorf(codes.FailedPrecondition,
			"cannot find %s from %s: run `npm ci` in the project first", module, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: "node", Version: strings.TrimSpace(string(out))}, nil
}
