#!/bin/sh
# Registration entries for the three example agents, for a SPIRE server you manage by hand.
# Documentation, not run by CI: read it, adapt the variables, then run it where `spire-server`
# reaches the server's API socket (for a server in Kubernetes, through `kubectl exec`, below).
# With the SPIRE Controller Manager, apply clusterspiffeid.yaml instead (the controller then
# creates and deletes the entries as pods come and go): do not use both.
#
# Each agent gets spiffe://<trust domain>/agent/<name>, the ID its agent.yaml declares in
# agent.spiffe_id (the agent refuses to start with any other), when SPIRE attests a pod of
# namespace $NAMESPACE running as service account <name>: one service account per agent, so that
# one agent's pods can never obtain another agent's identity.
set -eu

TRUST_DOMAIN="${TRUST_DOMAIN:-example.org}"
NAMESPACE="${NAMESPACE:-agentweave}"
# The k8s_psat cluster name of the SPIRE agents' node attestor (its `cluster` setting).
CLUSTER="${CLUSTER:-demo-cluster}"
# The SPIRE agents' own namespace and service account (where the agent DaemonSet runs).
SPIRE_NAMESPACE="${SPIRE_NAMESPACE:-spire}"
SPIRE_AGENT_SA="${SPIRE_AGENT_SA:-spire-agent}"
# SVID lifetime in seconds. Agents pick up each renewal through the Workload API stream, with no
# restart; SPIRE renews at half-life. One hour is a usual production value.
X509_SVID_TTL="${X509_SVID_TTL:-3600}"

# How to run spire-server. Default: inside the server's pod. For a server on this host, use
# SPIRE_SERVER="spire-server" (and add -socketPath if it is not the default
# /tmp/spire-server/private/api.sock).
SPIRE_SERVER="${SPIRE_SERVER:-kubectl exec -n $SPIRE_NAMESPACE spire-server-0 -c spire-server -- /opt/spire/bin/spire-server}"

# 1. A node alias: every SPIRE agent of this cluster, attested by k8s_psat, gets one parent ID,
#    so that the workload entries below apply on whichever node the pod is scheduled.
$SPIRE_SERVER entry create \
  -node \
  -spiffeID "spiffe://$TRUST_DOMAIN/ns/$SPIRE_NAMESPACE/sa/$SPIRE_AGENT_SA" \
  -selector "k8s_psat:cluster:$CLUSTER" \
  -selector "k8s_psat:agent_ns:$SPIRE_NAMESPACE" \
  -selector "k8s_psat:agent_sa:$SPIRE_AGENT_SA"

# 2. One workload entry per agent: namespace + service account (the k8s workload attestor).
#    Add `-selector k8s:container-name:agent` to keep the identity from the pod's other
#    containers (the search backend, the OPA sidecar), which share the Workload API mount.
for AGENT in orchestrator search payments; do
  $SPIRE_SERVER entry create \
    -parentID "spiffe://$TRUST_DOMAIN/ns/$SPIRE_NAMESPACE/sa/$SPIRE_AGENT_SA" \
    -spiffeID "spiffe://$TRUST_DOMAIN/agent/$AGENT" \
    -selector "k8s:ns:$NAMESPACE" \
    -selector "k8s:sa:$AGENT" \
    -x509SVIDTTL "$X509_SVID_TTL"
done

# 3. Federation (optional). An agent accepts peers of another trust domain only when it holds
#    that domain's bundle. After setting up the federation relationship on both servers (their
#    `federation` blocks, or `spire-server bundle set -id spiffe://partner.example -path
#    partner.bundle.pem`), add `-federatesWith spiffe://partner.example` to the entries of the
#    agents that talk across; the Workload API then delivers the partner's bundle with the SVID,
#    and the policy (data.agentweave.federation.partners) says what the partner may do.

$SPIRE_SERVER entry show -selector "k8s:ns:$NAMESPACE"
