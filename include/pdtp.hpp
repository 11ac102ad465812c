// The PDTP core in one include: wire codecs, the peer HTTP subset, and the server and client state
// machines. Everything here is header-only and does no I/O. The reliable-UDP (pdtp/rudp.hpp) and
// secure (pdtp/secure/...) layers are included separately.
#pragma once

#include "pdtp/result.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"
#include "pdtp/wire/range.hpp"
#include "pdtp/wire/types.hpp"
#include "pdtp/wire/url.hpp"
#include "pdtp/http/head.hpp"
#include "pdtp/http/peer.hpp"
#include "pdtp/http/range_header.hpp"
#include "pdtp/core/catalog.hpp"
#include "pdtp/core/client.hpp"
#include "pdtp/core/server.hpp"
#include "pdtp/core/sha256.hpp"
