// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The media side of one WHIP or WHEP session of rtcstream-signalling.
//
// WHIP (ingest): webrtcbin answers the client's offer; each received media
// is depayloaded and fed, still encoded, into rtcstreamsink, which publishes
// it to this server under the session's stream name.
//
// WHEP (egress): rtcstreamsrc watches the stream and leaves it encoded (a
// capsfilter of encoded caps the player takes follows each pad); once every
// pad knows its codec, payloader ! webrtcbin per m-line, and webrtcbin
// answers the player's offer.
//
// Threads: start, add_candidates and release run on the owner's main
// context, as do the owner's callbacks; webrtcbin's and rtcstreamsrc's
// callbacks touch only the fields under `lock` and hop to the main context.
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <libsoup/soup.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rtcstream/codecs.h"
#include "rtcstream/protocol.h"
#include "rtcstream/ref.h"
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

// One m-line of the offer and the media path serving it. WHIP: head is the
// depayloader fed by webrtcbin. WHEP: head is the capsfilter after an
// rtcstreamsrc pad; codec is known once caps reach it.
struct WhipRoute {
  std::size_t media = 0;         // index into Offer::media
  const Codec *codec = nullptr;
  GstElement *head = nullptr;    // owned by the pipeline
  gulong block_probe = 0;        // WHEP: holds data until webrtcbin is linked
  bool linked = false;           // WHIP: a webrtcbin pad feeds it
};

struct WhipSession {
  WhipSessionOwner *owner = nullptr;
  std::string id;
  std::string name;
  std::string location;          // the session URL path
  bool whep = false;
  std::string offer_text;        // as given to webrtcbin
  Offer offer;                   // read-only once the session exists
  std::string local_uri;         // rtcstream://HOST:PORT/ of this server
  std::string tls_ca_file;
  // STUN/TURN servers (--ice-server): announced to the client in Link
  // headers and used by our own webrtcbin too, so that a client that
  // allows only relayed paths finds one on both sides.
  std::vector<protocol::IceServer> ice_servers;

  // Main context only.
  bool alive = true;             // false once the owner ended it
  Ref<GstElement> pipeline;
  GstElement *webrtc = nullptr;  // owned by the pipeline
  guint bus_watch = 0;
  guint silence_watch = 0;       // ends a connected session whose peer went silent
  guint timeout = 0;             // the owner's answer timeout
  Ref<SoupServerMessage> pending;  // the owner's POST waiting for the answer
  GstSDPMessage *answer = nullptr;
  bool gathered = false;
  bool registered = false;       // WHIP: the ingest's stream is listed (WHEP: unused)
  bool answer_sent = false;      // the owner got answered () (once)
  bool no_more_pads = false;     // WHEP: rtcstreamsrc exposed every pad
  std::vector<std::pair<guint, std::string>> early_candidates;  // PATCHed before webrtcbin

  // Shared with streaming and webrtcbin threads.
  std::atomic<gint64> last_heard_us{0};  // monotonic time of the peer's last RTCP
  std::mutex lock;
  std::vector<WhipRoute> routes;
  std::vector<std::pair<guint, std::string>> candidates;  // ours, for the answer

  WhipSession () = default;
  WhipSession (const WhipSession &) = delete;
  WhipSession &operator= (const WhipSession &) = delete;
  ~WhipSession ();
};

// Builds and starts the session's pipeline. Returns 0, or the HTTP status
// of the failure explained in `error`.
guint whip_session_start (const WhipSessionPtr &session, std::string &error);
// Hands the client's trickled candidates to webrtcbin (or keeps them until
// it exists).
void whip_session_add_candidates (const WhipSessionPtr &session,
    std::vector<std::pair<guint, std::string>> candidates);
// Detaches the pipeline for the caller to stop (transfer full; null if none).
GstElement *whip_session_release (WhipSession &session);

}  // namespace rtcstream::signalling
