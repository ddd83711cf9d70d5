// traefik_calls makes the Docker API calls Traefik's Docker and Swarm providers make
// (pkg/provider/docker/pdocker.go, pswarm.go, shared.go), with the official Go SDK
// (github.com/docker/docker/client), against $DOCKER_HOST, and prints what each answered as
// one JSON object on the last line of stdout. Then the refusals: calls Traefik never makes
// (create, exec, stop, secrets, configs, info) that a read-only preset must refuse.
//
// The client is built as Traefik builds it: the endpoint from the environment (FromEnv),
// Traefik's User-Agent, API version negotiation (client.WithAPIVersionNegotiation, Traefik
// 2.11.31 and 3.6.1 on), and the containers listed with All (3.6 on). A second client pinned
// to API 1.24 plays the releases before (client.WithVersion(DockerAPIVersion), "1.24"),
// listing without All.
//
// With -await-start NAME it opens the events stream as the Docker provider does (type
// container), prints the line "events-open", and waits for NAME's start event; then it lists
// again, as Traefik does on a start event.
//
// Built by tests/src/go.rs in GOPATH mode against Debian's golang-github-docker-docker-dev.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Traefik's header (shared.go: "Traefik " + version.Version).
const userAgent = "Traefik 3.6.0-sdk-test"

// result is one call's answer: the HTTP status the SDK's error type stands for (200 when
// there was no error, 0 for a transport error) and the SDK's error text.
type result struct {
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

func answer(err error) result {
	if err == nil {
		return result{Status: 200}
	}
	status := 0
	switch {
	case errdefs.IsForbidden(err):
		status = 403
	case errdefs.IsNotFound(err):
		status = 404
	case errdefs.IsInvalidParameter(err):
		status = 400
	case errdefs.IsConflict(err):
		status = 409
	case errdefs.IsUnauthorized(err):
		status = 401
	case errdefs.IsUnavailable(err):
		status = 503
	case errdefs.IsNotImplemented(err):
		status = 501
	case errdefs.IsSystem(err):
		status = 500
	}
	return result{Status: status, Error: err.Error()}
}

type listed struct {
	ID     string            `json:"id"`
	Names  []string          `json:"names"`
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

type inspected struct {
	result
	Name     string            `json:"name,omitempty"`
	Status   string            `json:"state,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Env      []string          `json:"env,omitempty"`
	Networks []string          `json:"networks,omitempty"`
}

type event struct {
	Type   string            `json:"type"`
	Action string            `json:"action"`
	ID     string            `json:"id"`
	Attrs  map[string]string `json:"attributes"`
}

type summary struct {
	ClientVersion string               `json:"client_version"`
	Version       result               `json:"version"`
	ServerVersion string               `json:"server_version,omitempty"`
	ServerAPI     string               `json:"server_api,omitempty"`
	List          result               `json:"list"`
	Listed        []listed             `json:"listed"`
	Inspect       map[string]inspected `json:"inspect"`
	Peer          *result              `json:"peer,omitempty"`
	Events        *eventsSummary       `json:"events,omitempty"`
	Legacy        legacySummary        `json:"legacy"`
	Swarm         swarmSummary         `json:"swarm"`
	Denied        map[string]result    `json:"denied"`
}

type eventsSummary struct {
	Result      result   `json:"result"`
	Event       *event   `json:"event,omitempty"`
	Others      []string `json:"others"`
	ListedAfter []string `json:"listed_after"`
}

// Traefik before 2.11.31 and 3.6.1: API 1.24, ContainerList without All.
type legacySummary struct {
	ClientVersion string   `json:"client_version"`
	Version       result   `json:"version"`
	ServerAPI     string   `json:"server_api,omitempty"`
	List          result   `json:"list"`
	Listed        []string `json:"listed"`
}

type swarmSummary struct {
	Services     result `json:"services"`
	ServiceCount int    `json:"service_count"`
	Networks     result `json:"networks"`
	Tasks        result `json:"tasks"`
	Node         result `json:"node"`
}

func newClient(extra ...client.Opt) *client.Client {
	opts := append([]client.Opt{
		client.FromEnv,
		client.WithHTTPHeaders(map[string]string{"User-Agent": userAgent}),
	}, extra...)
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "traefik_calls: cannot create the client: %v\n", err)
		os.Exit(2)
	}
	return cli
}

func names(cs []types.Container) []string {
	out := []string{}
	for _, c := range cs {
		if len(c.Names) > 0 {
			out = append(out, strings.TrimPrefix(c.Names[0], "/"))
		}
	}
	sort.Strings(out)
	return out
}

func main() {
	awaitStart := flag.String("await-start", "", "wait for this container's start event")
	createName := flag.String("create-name", "", "the name of the container the refused create asks for")
	target := flag.String("target", "", "the container the refused exec and stop name")
	peer := flag.String("peer", "", "a container another's network_mode points at (config.go's getIPAddress inspects it)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := summary{Inspect: map[string]inspected{}, Denied: map[string]result{}}

	// pdocker.go: createClient, then ServerVersion (the first call negotiates).
	cli := newClient(client.WithAPIVersionNegotiation())
	defer cli.Close()
	v, err := cli.ServerVersion(ctx)
	s.Version = answer(err)
	s.ServerVersion, s.ServerAPI = v.Version, v.APIVersion
	s.ClientVersion = cli.ClientVersion()

	// listContainers: ContainerList(All: true), then ContainerInspect for each.
	cs, err := cli.ContainerList(ctx, types.ContainerListOptions{All: true})
	s.List = answer(err)
	s.Listed = []listed{}
	for _, c := range cs {
		s.Listed = append(s.Listed, listed{ID: c.ID, Names: c.Names, Labels: c.Labels, State: c.State})
		j, err := cli.ContainerInspect(ctx, c.ID)
		in := inspected{result: answer(err)}
		if err == nil {
			in.Name = strings.TrimPrefix(j.Name, "/")
			if j.State != nil {
				in.Status = j.State.Status
			}
			if j.Config != nil {
				in.Labels, in.Env = j.Config.Labels, j.Config.Env
			}
			if j.NetworkSettings != nil {
				for n := range j.NetworkSettings.Networks {
					in.Networks = append(in.Networks, n)
				}
			}
		}
		s.Inspect[c.ID] = in
	}

	// config.go: a container with network_mode container:NAME reads NAME's addresses.
	if *peer != "" {
		_, err := cli.ContainerInspect(ctx, *peer)
		r := answer(err)
		s.Peer = &r
	}

	// The events stream, filtered on type=container; Traefik lists again on start and die.
	if *awaitStart != "" {
		es := &eventsSummary{Others: []string{}}
		s.Events = es
		ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
		msgs, errs := cli.Events(ectx, types.EventsOptions{
			Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType))),
		})
		fmt.Println("events-open")
	wait:
		for {
			select {
			case m := <-msgs:
				if m.Action == "start" && m.Actor.Attributes["name"] == *awaitStart {
					es.Result = result{Status: 200}
					es.Event = &event{Type: m.Type, Action: m.Action, ID: m.Actor.ID, Attrs: m.Actor.Attributes}
					break wait
				}
				es.Others = append(es.Others, m.Type+" "+m.Action+" "+m.Actor.Attributes["name"])
			case err := <-errs:
				es.Result = answer(err)
				break wait
			}
		}
		ecancel()
		after, err := cli.ContainerList(ctx, types.ContainerListOptions{All: true})
		if err == nil {
			es.ListedAfter = names(after)
		}
	}

	// Traefik before 2.11.31 and 3.6.1: client.WithVersion("1.24"), no negotiation.
	old := newClient(client.WithVersion("1.24"))
	defer old.Close()
	ov, err := old.ServerVersion(ctx)
	s.Legacy.Version, s.Legacy.ServerAPI = answer(err), ov.APIVersion
	s.Legacy.ClientVersion = old.ClientVersion()
	ocs, err := old.ContainerList(ctx, types.ContainerListOptions{})
	s.Legacy.List, s.Legacy.Listed = answer(err), names(ocs)

	// pswarm.go: ServiceList, ServerVersion, NetworkList(scope=swarm), then per service
	// TaskList(service, desired-state=running) and NodeInspect per task's node.
	services, err := cli.ServiceList(ctx, types.ServiceListOptions{})
	s.Swarm.Services, s.Swarm.ServiceCount = answer(err), len(services)
	_, err = cli.NetworkList(ctx, types.NetworkListOptions{Filters: filters.NewArgs(filters.Arg("scope", "swarm"))})
	s.Swarm.Networks = answer(err)
	service, node := "traefik-calls-no-service", "traefik-calls-no-node"
	if len(services) > 0 {
		service = services[0].ID
	}
	tasks, err := cli.TaskList(ctx, types.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	s.Swarm.Tasks = answer(err)
	for _, t := range tasks {
		if t.NodeID != "" {
			node = t.NodeID
			break
		}
	}
	_, _, err = cli.NodeInspectWithRaw(ctx, node)
	s.Swarm.Node = answer(err)

	// What a read-only preset refuses.
	_, err = cli.ContainerCreate(ctx, &container.Config{Image: "sg-test-busybox:2", Cmd: []string{"true"}}, nil, nil, nil, *createName)
	s.Denied["create"] = answer(err)
	_, err = cli.ContainerExecCreate(ctx, *target, types.ExecConfig{Cmd: []string{"touch", "/tmp/traefik-calls-exec"}})
	s.Denied["exec"] = answer(err)
	stop := time.Duration(0)
	s.Denied["stop"] = answer(cli.ContainerStop(ctx, *target, &stop))
	_, err = cli.SecretList(ctx, types.SecretListOptions{})
	s.Denied["secrets"] = answer(err)
	_, err = cli.ConfigList(ctx, types.ConfigListOptions{})
	s.Denied["configs"] = answer(err)
	_, err = cli.Info(ctx)
	s.Denied["info"] = answer(err)

	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}
