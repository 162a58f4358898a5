// SPDX-License-Identifier: LGPL-2.1-or-later
//
// STUN/TURN servers as RFC 9725 carries them in Link headers, and as
// webrtcbin takes them. GLib only (no GStreamer): rtcstream-signalling's
// GStreamer-free core uses it as well as the WHIP client.
#pragma once

#include <string>
#include <vector>

namespace rtcstream::whip {

// One ICE server announced by the endpoint in a `Link: <URL>; rel="ice-server"`
// header (RFC 9725 section 4.6).
struct IceServer {
  std::string url;          // as announced: stun:HOST:PORT, turn:HOST:PORT?transport=udp
  std::string username;
  std::string credential;
  // The same as webrtcbin wants it: stun://HOST:PORT, turn(s)://USER:PASS@HOST:PORT...
  // Empty when the scheme is none of stun, stuns, turn, turns.
  std::string webrtcbin_uri () const;
  bool is_turn () const;
};

// Parses the values of every Link header (each value may hold several links
// separated by commas). Links whose rel is not "ice-server" are skipped.
std::vector<IceServer> parse_ice_server_links (const std::vector<std::string> &values);

}  // namespace rtcstream::whip
