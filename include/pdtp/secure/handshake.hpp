// The handshake over datagrams: an Initiator (one per outgoing session) and a Responder (one per
// listening endpoint). Together they combine the Noise handshake, the datagram format with
// mac1/mac2, cookies under load, cipher suite negotiation and the anti-amplification rule.
#pragma once

#include "pdtp/secure/initiator.hpp"
#include "pdtp/secure/responder.hpp"
#include "pdtp/secure/session_keys.hpp"
