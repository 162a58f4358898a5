// SPDX-License-Identifier: LGPL-2.1-or-later
//
// TURN server URIs as the turn-servers property takes them:
// turn://USER:PASSWORD@HOST[:PORT][?transport=udp|tcp] or turns://... (TLS).
// webrtcbin accepts a malformed one silently and then gathers no relay
// candidate, so the elements check every entry before they start, and name a
// server in messages without its password.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rtcstream {

struct TurnServer {
  bool tls = false;
  std::string user;       // unescaped
  std::string password;   // unescaped; never shown
  std::string host;
  unsigned port = 3478;   // 5349 for turns:// without a port
  std::string transport;  // empty (both), "udp" or "tcp"
};

// Parses one URI; on failure returns false and sets error to a sentence that
// says what is wrong and how to write it. The password never appears in it.
bool parse_turn_uri (std::string_view uri, TurnServer &out, std::string &error);

// Checks a whole turn-servers list; error names the bad entry (1-based).
bool check_turn_uris (const std::vector<std::string> &uris, std::string &error);

// turn://USER@HOST:PORT: a server named without its password.
std::string turn_display_name (const TurnServer &server);
// The same for a URI as given (falls back to hiding everything between the
// scheme and the host when it does not parse).
std::string turn_display_name (std::string_view uri);

}  // namespace rtcstream
