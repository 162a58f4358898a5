// SPDX-License-Identifier: LGPL-2.1-or-later
#include "app-signaller.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtcstream/signallers/whip-util.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_app_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_app_signaller_debug

using rtcstream::Ref;

namespace {

enum {
  PROP_0,
  PROP_MEDIA_ONLY,
  PROP_GATHER_TIMEOUT,
};

enum {
  SIGNAL_ANSWER,
  SIGNAL_ENDED,
  N_SIGNALS,
};
guint signals[N_SIGNALS];

constexpr guint kDefaultGatherTimeoutMs = 3000;

using SdpPtr = std::shared_ptr<GstWebRTCSessionDescription>;

// One session, from the remote offer to the end (worker thread only).
struct Session {
  SdpPtr answer;                                 // the element's, once sent
  std::vector<rtcstream::whip::Candidate> local;  // gathered so far
  std::vector<rtcstream::whip::Candidate> remote; // held until the answer
  guint gather_timer = 0;
  bool offered = false;                           // the element has the offer
  bool answered = false;                          // "answer" emitted
};

struct State {
  // Settings: guarded by lock.
  std::mutex lock;
  bool media_only = false;
  guint gather_timeout_ms = kDefaultGatherTimeoutMs;

  // Worker-thread-only.
  std::map<std::string, Session> sessions;
};

}  // namespace

struct _RtcstreamAppSignaller {
  RtcstreamBaseSignaller parent;
  State *state;  // owned by the base (rtcstream_base_signaller_set_state)
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamAppSignaller, rtcstream_app_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_app_signaller_debug, "rtcstream-app-signaller", 0,
        "rtcstream signaller driven by the application"))

namespace {

RtcstreamBaseSignaller *
base (RtcstreamAppSignaller *self)
{
  return RTCSTREAM_BASE_SIGNALLER (self);
}

// Worker: emits "answer" once, with every candidate gathered so far.
void
emit_answer (RtcstreamAppSignaller *self, const std::string &id, bool complete)
{
  auto it = self->state->sessions.find (id);
  if (it == self->state->sessions.end () || it->second.answered || !it->second.answer)
    return;
  Session &s = it->second;
  s.answered = true;
  rtcstream::cancel_timer (base (self), s.gather_timer);
  g_autoptr (GstSDPMessage) sdp = nullptr;
  gst_sdp_message_copy (s.answer->sdp, &sdp);
  rtcstream::whip::add_candidates (sdp, s.local, complete);
  g_autofree char *text = gst_sdp_message_as_text (sdp);
  GST_INFO_OBJECT (self, "session %s answered with %zu candidates%s", id.c_str (),
      s.local.size (), complete ? "" : " (gathering not complete)");
  g_signal_emit (self, signals[SIGNAL_ANSWER], 0, id.c_str (), text);
}

// --- the base's vfuncs (worker thread) -----------------------------------------

void
app_start (RtcstreamBaseSignaller *)
{
}

void
app_stop (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_APP_SIGNALLER (base_self);
  for (auto &[id, s] : self->state->sessions)
    rtcstream::cancel_timer (base_self, s.gather_timer);
  self->state->sessions.clear ();
}

gboolean
app_accepts_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  return RTCSTREAM_APP_SIGNALLER (base_self)->state->sessions.count (session_id) > 0;
}

void
app_send_sdp (RtcstreamBaseSignaller *base_self, const gchar *session_id,
    const GstWebRTCSessionDescription *sdp)
{
  auto *self = RTCSTREAM_APP_SIGNALLER (base_self);
  if (sdp->type != GST_WEBRTC_SDP_TYPE_ANSWER) {
    GST_WARNING_OBJECT (self, "session %s: the element sent an offer; this signaller only "
        "carries answers to the application's offers", session_id);
    return;
  }
  Session &s = self->state->sessions[session_id];
  if (s.answer)
    return;
  s.answer = SdpPtr (gst_webrtc_session_description_copy (sdp),
      gst_webrtc_session_description_free);
  guint timeout;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    timeout = self->state->gather_timeout_ms;
  }
  std::string id = session_id;
  s.gather_timer = rtcstream::post_delayed (self, timeout, [id] (RtcstreamAppSignaller *self) {
    auto it = self->state->sessions.find (id);
    if (it == self->state->sessions.end ())
      return;
    it->second.gather_timer = 0;
    emit_answer (self, id, false);
  });
  // The remote candidates that came before the answer, in order.
  std::vector<rtcstream::whip::Candidate> held = std::move (s.remote);
  s.remote.clear ();
  for (const auto &[mline, cand] : held)
    rtcstream_signaller_emit_handle_ice (RTCSTREAM_SIGNALLER (self), session_id, mline,
        cand.c_str ());
}

void
app_add_ice (RtcstreamBaseSignaller *base_self, const gchar *session_id, guint mline,
    const gchar *candidate)
{
  auto *self = RTCSTREAM_APP_SIGNALLER (base_self);
  auto it = self->state->sessions.find (session_id);
  if (it == self->state->sessions.end () || it->second.answered)
    return;
  if (!*candidate) {
    emit_answer (self, session_id, true);
    return;
  }
  it->second.local.emplace_back (mline, candidate);
}

void
app_end_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  auto *self = RTCSTREAM_APP_SIGNALLER (base_self);
  auto it = self->state->sessions.find (session_id);
  if (it == self->state->sessions.end ())
    return;
  rtcstream::cancel_timer (base_self, it->second.gather_timer);
  self->state->sessions.erase (it);
  GST_INFO_OBJECT (self, "the element ended session %s", session_id);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0, session_id);
}

}  // namespace

void
rtcstream_app_signaller_offer (RtcstreamAppSignaller *self, const gchar *session_id,
    const gchar *peer_id, const GstWebRTCSessionDescription *offer)
{
  g_return_if_fail (RTCSTREAM_IS_APP_SIGNALLER (self) && session_id && offer);
  SdpPtr copy (gst_webrtc_session_description_copy (offer), gst_webrtc_session_description_free);
  std::string id = session_id, peer = peer_id ? peer_id : session_id;
  rtcstream::post (self, [id, peer, copy] (RtcstreamAppSignaller *self) {
    Session &s = self->state->sessions[id];
    if (s.offered)
      return;
    s.offered = true;
    auto *iface = RTCSTREAM_SIGNALLER (self);
    if (rtcstream_base_signaller_get_role (base (self)) == RTCSTREAM_ROLE_PRODUCER) {
      rtcstream_signaller_emit_session_requested (iface, id.c_str (), peer.c_str (), copy.get ());
    } else {
      rtcstream_signaller_emit_session_started (iface, id.c_str (), peer.c_str ());
      rtcstream_signaller_emit_session_description (iface, id.c_str (), copy.get ());
    }
  });
}

void
rtcstream_app_signaller_add_remote_ice (RtcstreamAppSignaller *self, const gchar *session_id,
    guint mline, const gchar *candidate)
{
  g_return_if_fail (RTCSTREAM_IS_APP_SIGNALLER (self) && session_id && candidate);
  std::string id = session_id, cand = candidate;
  rtcstream::post (self, [id, mline, cand] (RtcstreamAppSignaller *self) {
    // Candidates may come before the offer (a PATCH racing the POST's
    // processing): they wait with the session's other early ones.
    Session &s = self->state->sessions[id];
    if (!s.answer)
      s.remote.emplace_back (mline, cand);
    else
      rtcstream_signaller_emit_handle_ice (RTCSTREAM_SIGNALLER (self), id.c_str (), mline,
          cand.c_str ());
  });
}

void
rtcstream_app_signaller_end (RtcstreamAppSignaller *self, const gchar *session_id)
{
  g_return_if_fail (RTCSTREAM_IS_APP_SIGNALLER (self) && session_id);
  std::string id = session_id;
  rtcstream::post (self, [id] (RtcstreamAppSignaller *self) {
    auto it = self->state->sessions.find (id);
    if (it == self->state->sessions.end ())
      return;
    rtcstream::cancel_timer (base (self), it->second.gather_timer);
    self->state->sessions.erase (it);
    rtcstream_signaller_emit_session_ended (RTCSTREAM_SIGNALLER (self), id.c_str ());
  });
}

static void
rtcstream_app_signaller_init (RtcstreamAppSignaller *self)
{
  self->state = rtcstream::make_signaller_state<State> (base (self));
}

static void
rtcstream_app_signaller_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  State *st = RTCSTREAM_APP_SIGNALLER (object)->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_MEDIA_ONLY:
      st->media_only = g_value_get_boolean (value);
      break;
    case PROP_GATHER_TIMEOUT:
      st->gather_timeout_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_app_signaller_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  State *st = RTCSTREAM_APP_SIGNALLER (object)->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_MEDIA_ONLY:
      g_value_set_boolean (value, st->media_only);
      break;
    case PROP_GATHER_TIMEOUT:
      g_value_set_uint (value, st->gather_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_app_signaller_class_init (RtcstreamAppSignallerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = rtcstream_app_signaller_set_property;
  gobject_class->get_property = rtcstream_app_signaller_get_property;

  RtcstreamBaseSignallerClass *base_class = RTCSTREAM_BASE_SIGNALLER_CLASS (klass);
  base_class->worker_name = "rtcstream-app";
  base_class->debug_category = rtcstream_app_signaller_debug;
  base_class->start = app_start;
  base_class->stop = app_stop;
  base_class->accepts_session = app_accepts_session;
  base_class->send_sdp = app_send_sdp;
  base_class->add_ice = app_add_ice;
  base_class->end_session = app_end_session;
  base_class->get_features = [] (RtcstreamBaseSignaller *base_self) {
    State *st = RTCSTREAM_APP_SIGNALLER (base_self)->state;
    std::lock_guard<std::mutex> lk (st->lock);
    return st->media_only ? RTCSTREAM_SIGNALLER_FEATURE_MEDIA_ONLY
                          : RTCSTREAM_SIGNALLER_FEATURE_NONE;
  };

  g_object_class_install_property (gobject_class, PROP_MEDIA_ONLY,
      g_param_spec_boolean ("media-only", "Media only",
          "The remote peer takes audio and video only (a WHIP/WHEP client): elements "
          "open no data channels through this signaller",
          FALSE, static_cast<GParamFlags> (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
              G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_GATHER_TIMEOUT,
      g_param_spec_uint ("gather-timeout", "Gather timeout",
          "Longest wait (ms) for ICE gathering after the element's answer; then the "
          "answer is emitted with the candidates gathered so far",
          0, G_MAXUINT, kDefaultGatherTimeoutMs,
          static_cast<GParamFlags> (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  signals[SIGNAL_ANSWER] = g_signal_new ("answer", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  signals[SIGNAL_ENDED] = g_signal_new ("ended", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_STRING);
}

RtcstreamAppSignaller *
rtcstream_app_signaller_new (RtcstreamRole role)
{
  return RTCSTREAM_APP_SIGNALLER (g_object_new (RTCSTREAM_TYPE_APP_SIGNALLER, "role", role,
      nullptr));
}
