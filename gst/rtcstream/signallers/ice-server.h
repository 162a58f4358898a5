// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The one type of a STUN/TURN server: as rtcstream-signalling hands it out,
// as RFC 9725 carries it in Link headers, and as webrtcbin takes it. GLib
// only (no GStreamer): part of the base library, which the server's
// GStreamer-free hub uses as well as the signallers and sessions.
#pragma once

#include <string>
#include <vector>

namespace rtcstream {

// A STUN or TURN server, from the wire to webrtcbin: the shape of the
// browser's RTCIceServer, which rtcstream-signalling's welcome carries as it
// is; a WHIP/WHEP Link header is one with a single URL; the elements'
// stun-server and turn-servers become these (see the elements' ice_config).
struct IceServer {
  std::vector<std::string> urls;  // stun:HOST:PORT, turn:HOST:PORT?transport=udp, turns:...
  std::string username;           // TURN only; may be empty
  std::string credential;

  bool operator== (const IceServer &o) const
  {
    return urls == o.urls && username == o.username && credential == o.credential;
  }
  // Whether a URL is turn: or turns:.
  bool is_turn () const;
  // The URLs as webrtcbin takes them: stun://HOST:PORT,
  // turn(s)://USER:PASS@HOST:PORT... (userinfo %-escaped). A URL of another
  // scheme is left out.
  std::vector<std::string> webrtcbin_uris () const;
  // The inverse, for URIs an application's signaller hands out: stun:// and
  // turn(s)://[USER:PASS@]HOST[:PORT][?...]; false for anything else.
  static bool from_webrtcbin_uri (const std::string &uri, IceServer &out);
};

// Servers as webrtcbin's two properties take them: stun-server, the first
// STUN URL of all (webrtcbin has one; empty when there is none), and
// turn-servers, every TURN URL, in order.
struct WebrtcbinIceUris {
  std::string stun;
  std::vector<std::string> turn;
};
WebrtcbinIceUris webrtcbin_ice_uris (const std::vector<IceServer> &servers);

// Parses the values of every Link header (each value may hold several links
// separated by commas) into one server per link (RFC 9725 section 4.6).
// Links whose rel is not "ice-server" are skipped.
std::vector<IceServer> parse_ice_server_links (const std::vector<std::string> &values);

}  // namespace rtcstream
