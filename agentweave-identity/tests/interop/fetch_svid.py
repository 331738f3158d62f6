"""Independent SPIFFE Workload API client check: the Python `spiffe` package (py-spiffe) fetches
an X.509-SVID and the bundles from the endpoint given as argv[1] and prints what it saw, one
`key=value` per line, for the Rust test to assert."""
import sys

from spiffe import WorkloadApiClient

client = WorkloadApiClient(socket_path=sys.argv[1], default_timeout=15)
svid = client.fetch_x509_svid()
print(f"spiffe_id={svid.spiffe_id}")
print(f"chain_len={len(svid.cert_chain)}")
bundles = client.fetch_x509_bundles()
domains = sorted(str(b.trust_domain) for b in bundles.bundles)
print(f"bundles={','.join(domains)}")
