// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The STUN/TURN servers this signalling server hands to its peers: in the
// "welcome" of every websocket peer (pipelines and the web pages), and in
// the Link headers of WHIP/WHEP answers. A deployment configures its TURN
// server once, here, instead of in every pipeline and page.
//
// TURN credentials are either static (--turn-user/--turn-password) or made
// per peer from a secret shared with the TURN server (coturn's
// use-auth-secret, the "TURN REST API"): username "EXPIRY:LABEL", password
// base64 (HMAC-SHA1 (secret, username)), valid until EXPIRY (Unix time), so
// a leaked credential expires and no password is handed to everyone.
//
// Pure functions: no sockets, no clock (the caller passes the time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtcstream/protocol.h"

namespace rtcstream::signalling {

struct IceServerOptions {
  std::vector<std::string> urls;   // stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp], turns:
  std::string turn_user;           // static TURN credentials ...
  std::string turn_password;
  std::string turn_secret;         // ... or per-peer ones from this shared secret
  unsigned turn_ttl_s = 86400;     // how long per-peer credentials stay valid
  // The server's own WHIP/WHEP sessions use relayed paths only
  // (--ice-transport-policy relay); needs a turn: URL.
  bool relay_only = false;

  bool empty () const { return urls.empty (); }
};

// Checks the options; returns a sentence naming the problem, or empty.
std::string check_ice_server_options (const IceServerOptions &options);

// The servers for one peer at time now_s (Unix seconds): the STUN URLs as
// one entry, the TURN URLs as another with their credentials. label names
// the peer in per-peer usernames (its id, or the WHIP/WHEP resource).
std::vector<protocol::IceServer> ice_servers_for (const IceServerOptions &options,
    const std::string &label, std::int64_t now_s);

// TURN REST API credential for username with secret.
std::string turn_rest_password (const std::string &secret, const std::string &username);

// RFC 9725 Link header values for the servers, one per URL:
//   <turn:h:3478>; rel="ice-server"; username="u"; credential="p"; credential-type="password"
std::vector<std::string> link_header_values (const std::vector<protocol::IceServer> &servers);

}  // namespace rtcstream::signalling
