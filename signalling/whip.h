// SPDX-License-Identifier: LGPL-2.1-or-later
//
// WHIP and WHEP endpoints of rtcstream-signalling (RFC 9725 and the WHEP
// draft). A WHIP client's stream is received by an in-process pipeline
// (webrtcbin ! depayloader ! rtcstreamsink) that publishes it to this very
// server under its name, so every consumer can watch it; a WHEP player is
// served by an in-process pipeline (rtcstreamsrc ! payloader ! webrtcbin)
// that watches the named stream. Media stays encoded on both paths.
//
// Everything here runs on the thread-default GMainContext of the thread that
// calls attach () (the server's main loop); webrtcbin's callbacks hop there.
// The interface is GStreamer-free so server.h stays so.
#pragma once

#include <libsoup/soup.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "listener.h"
#include "rtcstream/protocol.h"

namespace rtcstream::signalling {

struct WhipOptions {
  bool enabled = true;
  // Who may publish (POST, PATCH, DELETE on /whip/NAME...) and watch (on
  // /whep/NAME...): "Authorization: Bearer TOKEN" checked by this (auth.h);
  // unset: nobody needs a token.
  std::shared_ptr<const Authorizer> auth;
  OriginPolicy origins;             // browsers' Origin (CORS)
  std::size_t max_sdp_bytes = 64 * 1024;  // larger offers and sdpfrags get 413
  unsigned answer_timeout_s = 15;   // longest wait for the media side to answer
  std::size_t max_sessions = 100;   // WHIP and WHEP sessions at once; more get 503
  std::size_t max_sessions_per_ip = 10;
  unsigned connect_timeout_s = 30;  // a session not connected this long after its answer ends
  // The STUN/TURN servers announced in the Link headers of each answer, from
  // a label naming the session (per-session TURN credentials); unset: none.
  std::function<std::vector<protocol::IceServer> (const std::string &label)> ice_servers;
  // Our side of each WHIP/WHEP session offers only relayed candidates (from
  // the TURN servers of ice_servers): the server's addresses stay hidden and
  // every path goes through the TURN server (--ice-transport-policy relay).
  bool relay_only = false;
};

class WhipEndpoints {
public:
  // Whether a producer of that name is registered in the hub.
  using StreamExists = std::function<bool (const std::string &name)>;

  WhipEndpoints (WhipOptions options, StreamExists exists);
  ~WhipEndpoints ();

  WhipEndpoints (const WhipEndpoints &) = delete;
  WhipEndpoints &operator= (const WhipEndpoints &) = delete;

  // Serves /whip/... and /whep/... on `soup`. `local_uri` is the rtcstream
  // URI prefix of this server as seen from itself (rtcstream://127.0.0.1:PORT/);
  // `tls_ca_file` is given to the in-process elements with rtcstreams://.
  void attach (SoupServer *soup, const std::string &local_uri, const std::string &tls_ca_file);
  // A refusal from the request line and headers alone, before the body is
  // read: a page of a foreign origin (403), a wrong or missing token (401),
  // a token without the scope (403), a body too large (413) or of unknown
  // length (411) on /whip/ and /whep/. Nothing for other paths.
  std::optional<EarlyReply> check_headers (SoupServerMessage *msg);
  // Ends every session and waits for their pipelines to stop.
  void stop ();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcstream::signalling
