# Three encrypted-UDP clients share a 20 MB file; see swarm_lib.bash.
source "$(dirname "$0")/swarm_lib.bash"
swarm_test udp udp udp
