// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The media side of one WHIP or WHEP session of rtcstream-signalling, built
// from rtcstream's own elements, so that every WebRTC session of the server
// is the library's WebrtcSession and whatever a session can do (congestion
// control, statistics, liveness) WHIP publishers and WHEP players get too:
//
//   WHIP (ingest): rtcstreamsrc (an RtcstreamAppSignaller hands it the
//       client's offer; it answers) ! capsfilter (encoded) ! rtcstreamsink,
//       which publishes the stream to this server under the session's name.
//   WHEP (egress): rtcstreamsrc, watching the stream on this server !
//       capsfilter (encoded caps the player takes) ! rtcstreamsink, whose
//       RtcstreamAppSignaller hands it the player's offer; the sink answers
//       it as it serves any viewer, with the stream's encoded media.
//
// The capsfilters keep the media encoded end to end: rtcstreamsrc leaves
// its output encoded when downstream takes only encoded caps, and
// rtcstreamsink passes encoded input through.
//
// Threads: start, add_candidates and release run on the owner's main
// context, as do the owner's callbacks. The elements' and the signaller's
// callbacks touch only the fields under `lock` and hop to the main context.
#pragma once

#include <gst/gst.h>
#include <libsoup/soup.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rtcstream/protocol.h"
#include "rtcstream/ref.h"
#include "rtcstream/signallers/app-signaller.h"
#include "whip-sdp.h"

namespace rtcstream::signalling {

struct WhipSession;
using WhipSessionPtr = std::shared_ptr<WhipSession>;

// What a session reports to the endpoints that own it (on the main context).
class WhipSessionOwner {
public:
  virtual GMainContext *context () const = 0;
  // The answer, with our candidates, is ready for the POST's reply.
  virtual void answered (const WhipSessionPtr &session, const std::string &sdp) = 0;
  // The session failed or ended; a POST still waiting gets `status`.
  virtual void ended (const WhipSessionPtr &session, guint status, const std::string &reason) = 0;

protected:
  ~WhipSessionOwner () = default;
};

// One m-line of the offer and the capsfilter that carries its media between
// rtcstreamsrc and rtcstreamsink.
struct WhipRoute {
  std::size_t media = 0;          // index into Offer::media
  GstElement *filter = nullptr;   // owned by the pipeline
  bool linked = false;            // an rtcstreamsrc pad feeds it
  gulong block = 0;               // WHEP: holds data until rtcstreamsink runs
};

struct WhipSession {
  WhipSessionOwner *owner = nullptr;
  std::string id;
  std::string name;
  std::string client_ip;         // the address of the client (per-address cap)
  std::string location;          // the session URL path
  bool whep = false;
  std::string offer_text;        // as given to the elements
  Offer offer;                   // read-only once the session exists
  std::string local_uri;         // rtcstream://HOST:PORT/ of this server
  std::string tls_ca_file;
  std::string auth_token;        // the server's own token, for the hub-side element
  // STUN/TURN servers (--ice-server): announced to the client in Link
  // headers and used by our own session too, so that a client that allows
  // only relayed paths finds one on both sides.
  std::vector<protocol::IceServer> ice_servers;
  bool relay_only = false;       // our side offers relayed candidates only

  // Main context only.
  bool alive = true;             // false once the owner ended it
  Ref<GstElement> pipeline;
  Ref<RtcstreamAppSignaller> signaller;
  guint bus_watch = 0;
  guint timeout = 0;             // the owner's answer timeout
  guint connect_timer = 0;       // the owner's deadline for connecting after the answer
  bool connected = false;        // the client's WebRTC connection came up (once)
  Ref<SoupServerMessage> pending;  // the owner's POST waiting for the answer
  std::string answer;            // ours, with candidates, once made
  bool registered = false;       // WHIP: the ingest's stream is listed (WHEP: unused)
  bool answer_sent = false;      // the owner got answered () (once)
  bool offered = false;          // WHEP: the offer was handed to the sink

  // Shared with streaming threads.
  std::mutex lock;
  std::vector<WhipRoute> routes;

  WhipSession () = default;
  WhipSession (const WhipSession &) = delete;
  WhipSession &operator= (const WhipSession &) = delete;
};

// User data of a signal handler, probe or source that keeps the session
// alive for as long as the callback can run: hold () makes it, drop () is
// its destroy notify, held () reads it.
gpointer whip_session_hold (const WhipSessionPtr &session);
void whip_session_drop (gpointer data);
const WhipSessionPtr &whip_session_held (gpointer data);

// Builds and starts the session's pipeline. Returns 0, or the HTTP status
// of the failure explained in `error`.
guint whip_session_start (const WhipSessionPtr &session, std::string &error);
// Hands the client's trickled candidates to the session.
void whip_session_add_candidates (const WhipSessionPtr &session,
    const std::vector<std::pair<guint, std::string>> &candidates);
// Detaches the pipeline for the caller to stop (transfer full; null if none).
GstElement *whip_session_release (WhipSession &session);

}  // namespace rtcstream::signalling
