# A mixed swarm: two encrypted-UDP clients and one plain-TCP client share a 20 MB file (see
# swarm_lib.bash); the server names each peer's transport, and never pairs a UDP peer with a TCP one.
source "$(dirname "$0")/swarm_lib.bash"
swarm_test udp udp tcp
