# Three plain-TCP (PDTP v2) clients share a 20 MB file; see swarm_lib.bash.
source "$(dirname "$0")/swarm_lib.bash"
swarm_test tcp tcp tcp
