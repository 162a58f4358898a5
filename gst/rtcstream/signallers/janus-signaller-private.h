// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What the files of RtcstreamJanusSignaller share (not installed):
//   janus-signaller.cpp  the GObject and its properties, start and stop, the element's calls
//   janus-rest.cpp       Janus' REST API: requests and replies, the long poll of events, keepalives
//   janus-room.cpp       the VideoRoom: publishing, subscribing, and the room's events
//
// Janus' REST API in short: POST {"janus":"create"} to the base URL makes a
// Janus session, POST {"janus":"attach"} to /SESSION makes a handle on the
// VideoRoom plugin, POSTs to /SESSION/HANDLE carry plugin requests ("message",
// answered by an "ack" and later an event) and candidates ("trickle"), and a
// GET on /SESSION long-polls the events. One signaller is one Janus session
// with one handle, so it carries exactly one WebRTC session.
//
// Threads: everything declared here runs on the worker thread.
#pragma once

#include <libsoup/soup.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "janus-signaller.h"
#include "rtcstream/ref.h"

GST_DEBUG_CATEGORY_EXTERN (rtcstream_janus_signaller_debug);

namespace rtcstream::janus_signaller {

using json = nlohmann::json;

enum class Phase { Idle, Connecting, Joining, Joined, Stopped };

struct Settings {
  std::string url = "http://127.0.0.1:8088/janus";
  std::string room;
  std::string display;
  std::string pin;
  std::string api_secret;
  std::string token;
  // The base's properties, copied in at start (unset in State::settings).
  std::string tls_ca_file;
  gint producer_timeout_ms = 30000;
  gint reconnect_timeout_ms = 30000;
  std::string stream_name;
  RtcstreamRole role = RTCSTREAM_ROLE_PRODUCER;

  // The name we publish as or look for.
  std::string name () const { return display.empty () ? stream_name : display; }
};

struct State {
  std::mutex lock;
  Settings settings;  // guarded by lock, copied out at start

  // Worker-thread-only state.
  Settings cfg;  // copy taken at start
  Ref<SoupSession> http;
  Ref<GCancellable> cancellable;
  Phase phase = Phase::Idle;
  guint64 janus_session = 0;
  guint64 handle = 0;
  guint64 feed = 0;               // consumer: the publisher's id
  std::string session_id;         // ours, for the element; empty when none
  bool jsep_acked = false;        // our SDP reached Janus: candidates may follow
  std::vector<json> pending_candidates;
  guint keepalive_timer = 0;
  guint list_timer = 0;
  // The long poll failed (Janus unreachable) since then (monotonic us; 0:
  // it works), and the attempts to poll again.
  gint64 poll_lost_at_us = 0;
  guint poll_attempts = 0;
  guint poll_timer = 0;
  gint64 wait_deadline = 0;       // consumer: monotonic us, 0 = forever
  guint64 next_transaction = 0;
  guint generation = 0;           // bumped by start and stop: older replies are stale
};

}  // namespace rtcstream::janus_signaller

struct _RtcstreamJanusSignaller {
  RtcstreamBaseSignaller parent;
  rtcstream::janus_signaller::State *state;  // owned by the base
};

namespace rtcstream::janus_signaller {

using Self = RtcstreamJanusSignaller;
// reply is null when the request failed; error then says why.
using ReplyFn = std::function<void (Self *self, const json *reply, const std::string &error)>;

inline RtcstreamSignaller *
as_iface (Self *self)
{
  return RTCSTREAM_SIGNALLER (self);
}

// janus-signaller.cpp

// "room ROOM on URL", for messages.
std::string where (Self *self);
// Ends our WebRTC session, if any, telling the element.
void end_session (Self *self, const char *why);
// Fatal: the element posts it as an error. Ends our session too.
void fail (Self *self, RtcstreamSignallerError code, const std::string &msg);

// janus-rest.cpp

// The REST API's URL, of our Janus session and of our handle.
std::string path_url (Self *self, bool with_session, bool with_handle);
// Adds the api secret and the token, when set.
void add_auth (Self *self, json &body);
// GET when body is null, else POST of body (with a transaction and the
// credentials added). done runs unless the signaller stopped or restarted.
void http_request (Self *self, const std::string &url, json body, ReplyFn done);
// Turns a VideoRoom or Janus error into a sentence and fails with it.
void fail_with_janus_error (Self *self, const char *what, gint64 code, const std::string &reason);
// Checks a reply for Janus or VideoRoom errors; true when it is fine.
bool check_reply (Self *self, const char *what, const json *reply, const std::string &error);
// A plugin request on our handle, with an optional JSEP; a refusal fails.
void send_message (Self *self, json body, const json &jsep, const char *what,
    ReplyFn done = nullptr);
// A candidate (or {"completed":true}) for our handle.
void send_trickle (Self *self, const json &candidate);
// Our SDP reached Janus: sends the candidates kept until then.
void flush_candidates (Self *self);
// Long-polls our Janus session's events, until stop.
void poll_events (Self *self);
// Keeps our Janus session alive, until stop.
void schedule_keepalive (Self *self);

// janus-room.cpp

// Lists the room's participants: a producer checks that its name is free,
// then joins; a consumer looks for its publisher, then subscribes.
void list_participants (Self *self);
// An event of the VideoRoom plugin on our handle, with its JSEP if any.
void on_videoroom_event (Self *self, const json &data, const json *jsep);

}  // namespace rtcstream::janus_signaller
