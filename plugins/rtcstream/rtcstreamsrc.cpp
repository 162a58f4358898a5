// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-rtcstreamsrc
 *
 * Watches a stream published over WebRTC: joins it through a signaller (by
 * default our websocket protocol, chosen by `uri`), and exposes one
 * sometimes-pad per stream, `video_%u` and `audio_%u`, decoded to raw by
 * default or left encoded when downstream asks for encoded caps.
 *
 *     gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam ! videoconvert ! autovideosink
 *     gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam ! video/x-h264 ! h264parse ! ...
 *
 * The pads appear with the producer's offer, before the answer: what their
 * downstream takes chooses the codec (`! video/x-h264 !` gets H264). It ends
 * like any source: when the producer ends the stream, when every linked
 * pad's downstream is done (num-buffers), and on EOS sent to it (-e).
 *
 * Threads: the signaller's signals and webrtcbin's replies are handled on
 * the element's Worker, which also exposes the pads; decoding chains are
 * built in webrtcbin's pad-added (a streaming thread) because data waits on
 * them, and nothing there blocks. See src-outputs.cpp.
 */
#include "src-private.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rtcstream/abs-capture-time.h"
#include "rtcstream/datachannel.h"
#include "rtcstream/signallers/base-signaller.h"
#include "rtcstream/worker.h"

GST_DEBUG_CATEGORY (rtcstream_src_debug);

using namespace rtcstream;
using namespace rtcstream::src;

namespace {

enum {
  PROP_LATENCY = PROP_COMMON_LAST,
  PROP_MIN_LATENCY,
  PROP_MAX_LATENCY,
  PROP_PRODUCER_TIMEOUT,
  PROP_STATS,
  PROP_NAVIGATION,
};

guint src_signals[N_MESSAGE_SIGNALS];

// Adaptive by default (src-playout.cpp), between 0 and 1 s.
constexpr guint kDefaultMinLatencyMs = 0;
constexpr guint kDefaultMaxLatencyMs = 1000;
constexpr gint kDefaultProducerTimeoutMs = 30000;

}  // namespace

G_DEFINE_TYPE_WITH_CODE (RtcstreamSrc, rtcstream_src, GST_TYPE_BIN,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        (uri_handler_init<GST_URI_SRC, core_settings<RtcstreamSrc>>))
    GST_DEBUG_CATEGORY_INIT (rtcstream_src_debug, "rtcstreamsrc", 0,
        "rtcstream WebRTC consumer element"))
GST_ELEMENT_REGISTER_DEFINE (rtcstreamsrc, "rtcstreamsrc", GST_RANK_PRIMARY, RTCSTREAM_TYPE_SRC)

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE ("video_%u",
    GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8; video/x-vp9; video/x-h264"));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio_%u",
    GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));
static GstStaticPadTemplate data_template = GST_STATIC_PAD_TEMPLATE ("data_%u",
    GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS_ANY);

namespace {

// Whether NACK is negotiated: a fixed latency with room for a
// retransmission, or an adaptive one that may reach it (it is then on only
// while the target leaves room: Playout::apply).
bool
use_nack (State *st)
{
  std::lock_guard<std::mutex> lk (st->lock);
  if (st->latency_ms == kAdaptiveLatency)
    return st->max_latency_ms >= kNackMinLatencyMs;
  return (guint) st->latency_ms >= kNackMinLatencyMs;
}

// webrtcbin's thread, while it applies the producer's offer: the media of
// a pad gets the pad's codecs (downstream's choice, in our order; webrtcbin
// orders its answer by them, so the consumer's preference wins). A media
// that got no pad (no codec we know) keeps every codec we accept, which
// none of its own matches: webrtcbin rejects it.
void
on_new_transceiver (GstElement *, GstWebRTCRTPTransceiver *trans, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  guint mline = G_MAXUINT;
  g_object_get (trans, "mlineindex", &mline, nullptr);
  GstCaps *prefs = output_preferences (self, mline, false);
  if (!prefs) {
    CommonSettings s = self->state->copy_settings ();
    prefs = gst_caps_new_empty ();
    for (const auto *list : {&s.video_codecs, &s.audio_codecs})
      for (const Codec *c : *list)
        gst_caps_append (prefs, rtp_match_caps (*c));
  }
  {
    guint twcc_id, delay_id, capture_id;
    {
      std::lock_guard<std::mutex> lk (self->state->lock);
      twcc_id = self->state->offer_twcc_id;
      delay_id = self->state->offer_playout_delay_id;
      capture_id = self->state->offer_capture_time_id;
    }
    // Accept the transport-wide congestion control feedback the producer
    // offers (with its id): webrtcbin answers only the header extensions that
    // the codec preferences name, and the producer adapts its bitrate to it.
    // And, on video, the playout delay it asks for (read by the depayloader:
    // rtcstream/playout-delay.h), and each frame's capture time
    // (rtcstream/abs-capture-time.h: the depayloader puts it on the frame).
    const std::string twcc = "extmap-" + std::to_string (twcc_id);
    const std::string delay = "extmap-" + std::to_string (delay_id);
    const std::string capture = "extmap-" + std::to_string (capture_id);
    for (guint i = 0; i < gst_caps_get_size (prefs); i++) {
      GstStructure *st = gst_caps_get_structure (prefs, i);
      if (twcc_id)
        gst_structure_set (st, twcc.c_str (), G_TYPE_STRING, kTwccExtensionUri, nullptr);
      const bool video = g_strcmp0 (gst_structure_get_string (st, "media"), "video") == 0;
      if (delay_id && video)
        gst_structure_set (st, delay.c_str (), G_TYPE_STRING, kPlayoutDelayExtensionUri,
            nullptr);
      if (capture_id && video)
        gst_structure_set (st, capture.c_str (), G_TYPE_STRING, kAbsCaptureTimeExtensionUri,
            nullptr);
    }
  }
  // do-nack: the jitterbuffer asks for lost packets again (RTX or plain
  // NACK), which the latency property leaves room for.
  g_object_set (trans, "codec-preferences", prefs, "direction",
      GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, "do-nack", use_nack (self->state),
      nullptr);
  gst_caps_unref (prefs);
}

}  // namespace

const char *
rtcstream::src::phase_name (Phase phase)
{
  switch (phase) {
    case Phase::Waiting: return "waiting for the producer";
    case Phase::Joined: return "joined";
    case Phase::Offering: return "offering";
    case Phase::Answering: return "answering";
    case Phase::Streaming: return "streaming";
    case Phase::Ended: return "ended";
  }
  return "?";
}

namespace {

// Worker: the one transition function of the negotiation (see Phase in
// src-private.h). False, with a warning, for a transition the phases do not
// allow: a late or out-of-order message, which is then ignored.
bool
set_phase (RtcstreamSrc *self, Phase to, const char *what)
{
  State *st = self->state;
  const Phase from = st->phase;
  bool ok;
  switch (to) {
    case Phase::Waiting: ok = from == Phase::Ended; break;
    case Phase::Joined: ok = from == Phase::Waiting; break;
    case Phase::Offering: ok = from == Phase::Joined; break;
    case Phase::Answering: ok = from == Phase::Joined || from == Phase::Streaming; break;
    case Phase::Streaming: ok = from == Phase::Offering || from == Phase::Answering; break;
    case Phase::Ended: ok = from != Phase::Ended; break;
    default: ok = false;
  }
  if (!ok) {
    if (from != Phase::Ended)
      GST_WARNING_OBJECT (self, "%s while %s: ignored", what, phase_name (from));
    return false;
  }
  GST_DEBUG_OBJECT (self, "%s: %s -> %s", what, phase_name (from), phase_name (to));
  st->phase = to;
  return true;
}

// Worker: the session is over: the producer ended it, or (ours) we left.
// Closes it first, so that webrtcbin's streaming threads stop, then ends
// every pad.
void
end_stream (RtcstreamSrc *self, const char *why, bool ours)
{
  State *st = self->state;
  if (!set_phase (self, Phase::Ended, why))
    return;
  st->channels->clear ();
  close_data_channels (self);
  if (st->session)
    st->session->close ();
  bool pads;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    pads = !st->outputs.empty () || !st->data_outputs.empty ();
  }
  if (!ours && !any_media (self) && !any_data (self)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The producer ended the session before sending any media (%s)", why), (nullptr));
    return;
  }
  if (!pads) {
    // Downstream is not linked to anything that could end.
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Stopped (%s) before the stream started: nothing was received", why), (nullptr));
    return;
  }
  GST_INFO_OBJECT (self, "stream ended (%s): EOS on every pad", why);
  finish_outputs (self);
  finish_data_outputs (self);
}

// Worker: leaves the session on our side (EOS sent to the element, or every
// linked pad's downstream is done): the producer is told, then every pad
// ends.
void
leave (RtcstreamSrc *self, const char *why)
{
  State *st = self->state;
  if (st->phase == Phase::Ended)
    return;
  if (st->session && st->signaller)
    rtcstream_signaller_end_session (st->signaller.get (), st->session->id ().c_str ());
  end_stream (self, why, true);
}

// Worker: leaves once every linked pad is done.
void
leave_if_downstream_done (RtcstreamSrc *self)
{
  if (self->state->phase != Phase::Ended && linked_outputs_done (self))
    leave (self, "downstream is done");
}

}  // namespace

void
rtcstream::src::downstream_done (RtcstreamSrc *self)
{
  on_worker (self, [] (RtcstreamSrc *self) { leave_if_downstream_done (self); });
}

namespace {

// Worker: the codecs this element accepts, for error messages.
std::string
accepted_codecs (const CommonSettings &s)
{
  return codec_list_to_string (s.video_codecs) + "," + codec_list_to_string (s.audio_codecs);
}

// Worker: negotiation failed on our side: the session ends (the producer is
// told) with an error that says why.
void
fail_negotiation (RtcstreamSrc *self, const std::string &sentence)
{
  State *st = self->state;
  if (!set_phase (self, Phase::Ended, "negotiation failed"))  // our error, not the producer's end
    return;
  if (st->session && st->signaller)
    rtcstream_signaller_end_session (st->signaller.get (), st->session->id ().c_str ());
  GST_ELEMENT_ERROR (self, STREAM, CODEC_NOT_FOUND, ("%s", sentence.c_str ()), (nullptr));
}

// rtpbin's RTCP thread: the producer said goodbye (RTCP BYE) for the SSRC
// of a media that reached a pad: it has left. That is how a WHEP endpoint,
// which has no message for it, tells that its stream ended. webrtcbin says
// BYE on EOS (not always for every SSRC before it goes), browsers and aiortc
// when they close. A BYE for another SSRC (a retransmission stream) changes
// nothing.
void
on_bye_ssrc (GstElement *, guint, guint ssrc, gpointer data)
{
  auto *ctx = static_cast<std::pair<RtcstreamSrc *, std::string> *> (data);
  std::string sid = ctx->second;
  on_worker (ctx->first, [sid, ssrc] (RtcstreamSrc *self) {
    State *st = self->state;
    if (st->phase == Phase::Ended || !st->session || st->session->id () != sid)
      return;
    GST_INFO_OBJECT (self, "session %s: RTCP BYE from SSRC %u", sid.c_str (), ssrc);
    if (!media_ssrc (self, ssrc))
      return;
    if (st->signaller)
      rtcstream_signaller_end_session (st->signaller.get (), sid.c_str ());
    end_stream (self, "the producer said goodbye (RTCP BYE)", false);
  });
}

// --- signaller callbacks (signaller thread) -> worker ----------------------------

void
on_session_started (RtcstreamSignaller *, const gchar *sid, const gchar *peer, gpointer user)
{
  std::string s = sid, p = peer;
  on_worker (RTCSTREAM_SRC (user), [s, p] (RtcstreamSrc *self) {
    State *st = self->state;
    if (!set_phase (self, Phase::Joined, ("session " + s + " started").c_str ()))
      return;  // one session per start: a second one is ignored
    CommonSettings settings;
    bool adaptive;
    guint latency, min_latency, max_latency;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      settings = st->settings;
      adaptive = st->latency_ms == kAdaptiveLatency;
      latency = adaptive ? st->min_latency_ms : (guint) st->latency_ms;
      min_latency = st->min_latency_ms;
      max_latency = std::max (st->min_latency_ms, st->max_latency_ms);
    }
    st->session = std::make_shared<WebrtcSession> (s, p, st->worker, st->signaller.get (),
        GST_BIN (self));
    Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
    std::string err = st->session->create (ice_config (settings), latency,
        [ref] (GstWebRTCPeerConnectionState state) {
          if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
            auto &session = ref->state->session;
            std::string why = session ? session->failure () : std::string ();
            if (!why.empty ())
              GST_ELEMENT_ERROR (ref.get (), RESOURCE, READ,
                  ("The connection to the producer failed: %s", why.c_str ()), (nullptr));
            else
              GST_ELEMENT_ERROR (ref.get (), RESOURCE, READ,
                  ("The connection to the producer failed (ICE or DTLS): no network path. "
                   "On separate networks set stun-server and turn-servers"), (nullptr));
          }
        });
    if (!err.empty ()) {
      GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", err.c_str ()), (nullptr));
      return;
    }
    GstElement *w = st->session->webrtcbin ();
    st->playout = Playout::attach (w, adaptive, latency, min_latency, max_latency,
        use_nack (st), [self] {
          on_worker (self, [] (RtcstreamSrc *self) {
            if (self->state->playout)
              self->state->playout->apply ();
          });
        });
    g_signal_connect (w, "pad-added", G_CALLBACK (on_webrtc_pad), self);
    g_signal_connect (w, "on-new-transceiver", G_CALLBACK (on_new_transceiver), self);
    // webrtcbin's own rtpbin (the signalling server's WHIP/WHEP sessions
    // watch it the same way); it goes with the webrtcbin.
    if (GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (w), "rtpbin")) {
      g_signal_connect_data (rtpbin, "on-bye-ssrc", G_CALLBACK (on_bye_ssrc),
          new std::pair<RtcstreamSrc *, std::string> (self, s), [] (gpointer data, GClosure *) {
            delete static_cast<std::pair<RtcstreamSrc *, std::string> *> (data);
          }, (GConnectFlags) 0);
      gst_object_unref (rtpbin);
    }
    st->adopt_remote_channels (s, w);
    st->session->sync_state ();
    GST_INFO_OBJECT (self, "joined producer %s (session %s)", p.c_str (), s.c_str ());
  });
}

// Worker: we offer (WHEP). A pad per media kind first, so that downstream
// chooses its codecs; then one recvonly transceiver per pad with them, in
// the order of video-codecs / audio-codecs.
void
offer_session (RtcstreamSrc *self)
{
  State *st = self->state;
  if (!st->session || !st->session->webrtcbin ())
    return;
  CommonSettings settings = st->copy_settings ();
  std::vector<MediaSlot> media;
  for (MediaKind kind : {MediaKind::Video, MediaKind::Audio}) {
    const auto &list = kind == MediaKind::Video ? settings.video_codecs : settings.audio_codecs;
    if (std::any_of (list.begin (), list.end (),
            [] (const Codec *c) { return can_decode (*c) || can_depayload (*c); }))
      media.push_back ({(guint) media.size (), kind, nullptr});
  }
  if (media.empty ()) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("None of the codecs in video-codecs and audio-codecs can be received here: install "
         "gstreamer1.0-plugins-good, -bad and gstreamer1.0-libav"), (nullptr));
    return;
  }
  std::string error = expose_outputs (self, media);
  if (!error.empty ()) {
    fail_negotiation (self, error);
    return;
  }
  GstElement *w = st->session->webrtcbin ();
  const gboolean nack = use_nack (st);
  for (const MediaSlot &m : media) {
    GstCaps *caps = output_preferences (self, m.mline, true);
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_signal_emit_by_name (w, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
        caps, &trans);
    if (trans) {
      // Set again after on-new-transceiver, which fits answers, not offers.
      g_object_set (trans, "codec-preferences", caps, "direction",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, "do-nack", nack, nullptr);
      gst_object_unref (trans);
    }
    gst_caps_unref (caps);
  }
  Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
  st->session->offer ([ref] (const std::string &err) {
    if (!err.empty ())
      GST_ELEMENT_ERROR (ref.get (), STREAM, FAILED, ("Could not make an offer: %s",
          err.c_str ()), (nullptr));
  });
}

// Consumer side, a signaller that wants our offer (WHEP): make the session
// as on session-started, then offer.
void
on_session_requested (RtcstreamSignaller *sig, const gchar *sid, const gchar *peer,
    GstWebRTCSessionDescription *offer, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  if (offer) {
    GST_WARNING_OBJECT (self, "session %s: a consumer does not answer session requests "
        "with an offer in them, ignoring", sid);
    return;
  }
  on_session_started (sig, sid, peer, user);
  std::string s = sid;
  on_worker (self, [s] (RtcstreamSrc *self) {
    if (self->state->session && self->state->session->id () == s &&
        set_phase (self, Phase::Offering, "we offer"))
      offer_session (self);
  });
}

// Worker: the answer to our offer.
void
apply_answer (RtcstreamSrc *self, const std::string &sid,
    std::shared_ptr<GstWebRTCSessionDescription> answer)
{
  State *st = self->state;
  if (!st->session || st->session->id () != sid ||
      !set_phase (self, Phase::Streaming, "the answer to our offer"))
    return;
  Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
  st->session->set_remote (answer.get (), [ref, answer] (const std::string &err) {
    if (err.empty ()) {
      // Pads of media the endpoint does not send (a stream without audio)
      // end now, so that what is linked to them ends too.
      finish_unsent_outputs (ref.get (), answer.get ());
      announce_output_codecs (ref.get (), answer.get ());
      leave_if_downstream_done (ref.get ());
      return;
    }
    fail_negotiation (ref.get (), "The producer's answer could not be applied: " + err);
  });
}

void
on_session_description (RtcstreamSignaller *, const gchar *sid,
    GstWebRTCSessionDescription *desc, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  if (desc->type == GST_WEBRTC_SDP_TYPE_ANSWER) {
    std::string s = sid;
    std::shared_ptr<GstWebRTCSessionDescription> answer (
        gst_webrtc_session_description_copy (desc), gst_webrtc_session_description_free);
    on_worker (self, [s, answer] (RtcstreamSrc *self) { apply_answer (self, s, answer); });
    return;
  }
  if (desc->type != GST_WEBRTC_SDP_TYPE_OFFER) {
    GST_WARNING_OBJECT (self, "session %s: expected an offer, ignoring", sid);
    return;
  }
  std::string s = sid;
  std::shared_ptr<GstWebRTCSessionDescription> holder (
      gst_webrtc_session_description_copy (desc), gst_webrtc_session_description_free);
  on_worker (self, [s, holder] (RtcstreamSrc *self) {
    State *st = self->state;
    if (!st->session || st->session->id () != s ||
        !set_phase (self, Phase::Answering, "the producer's offer"))
      return;
    bool first;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      first = st->outputs.empty ();
      st->offer_twcc_id = sdp_extmap_id (holder->sdp, kTwccExtensionUri);
      st->offer_playout_delay_id = sdp_extmap_id (holder->sdp, kPlayoutDelayExtensionUri);
      st->offer_capture_time_id = sdp_extmap_id (holder->sdp, kAbsCaptureTimeExtensionUri);
    }
    // The pads first, before the answer: what downstream takes decides the
    // codecs each media is answered with. (A later offer renegotiates the
    // same media: the pads stay.)
    if (first) {
      std::vector<ReceivingMedia> media = sdp_receiving_media (holder.get ());
      std::vector<MediaSlot> slots;
      for (const ReceivingMedia &m : media)
        if (!m.codecs.empty ())
          slots.push_back ({m.mline, m.kind, &m.codecs});
      std::string error = expose_outputs (self, slots);
      if (!error.empty ()) {
        fail_negotiation (self, error);
        return;
      }
    }
    Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
    auto fail = [ref] (const std::string &what) {
      fail_negotiation (ref.get (), "Negotiation with the producer failed: " + what +
          ". This element accepts " + accepted_codecs (ref->state->copy_settings ()) +
          " (video-codecs, audio-codecs): the producer must offer one of them");
    };
    st->session->set_remote (holder.get (), [ref, fail] (const std::string &err) {
      if (!err.empty ()) {
        fail (err);
        return;
      }
      ref->state->session->answer ([ref, fail] (const std::string &err) {
        if (!err.empty ()) {
          fail (err);
          return;
        }
        set_phase (ref.get (), Phase::Streaming, "our answer");
        GstWebRTCSessionDescription *answer = ref->state->session->answer_description ();
        announce_output_codecs (ref.get (), answer);
        if (answer)
          gst_webrtc_session_description_free (answer);
      }, true /* the DTLS server: the producer sends once we have our keys */);
    });
  });
}

void
on_handle_ice (RtcstreamSignaller *, const gchar *sid, guint mline, const gchar *cand,
    gpointer user)
{
  std::string s = sid, c = cand;
  on_worker (RTCSTREAM_SRC (user), [s, c, mline] (RtcstreamSrc *self) {
    if (self->state->session && self->state->session->id () == s)
      self->state->session->add_ice (mline, c);
  });
}

void
on_session_ended (RtcstreamSignaller *, const gchar *sid, gpointer user)
{
  std::string s = sid;
  on_worker (RTCSTREAM_SRC (user), [s] (RtcstreamSrc *self) {
    if (self->state->session && self->state->session->id () == s)
      end_stream (self, "the producer stopped", false);
  });
}

void
on_signaller_error (RtcstreamSignaller *, GError *err, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  self->state->post_error (GST_ELEMENT (self), GST_RESOURCE_ERROR_OPEN_READ, err);
}

bool
start (RtcstreamSrc *self)
{
  State *st = self->state;
  std::string error;
  Ref<RtcstreamSignaller> sig;
  gint timeout;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    sig = signaller_for_start (st->settings, RTCSTREAM_ROLE_CONSUMER, error);
    timeout = st->producer_timeout_ms;
    st->outputs.clear ();
  }
  if (!sig) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return false;
  }
  if (RTCSTREAM_IS_BASE_SIGNALLER (sig.get ()))
    g_object_set (sig.get (), "producer-timeout", timeout, nullptr);
  auto on_start = [st] { st->phase = Phase::Waiting; };
  auto refresh_stats = [st] {
    if (st->session)
      st->session->refresh_stats ();
    if (st->playout)
      st->playout->tick ();
  };
  st->start (GST_ELEMENT (self), std::move (sig), on_start, refresh_stats, {
    {"session-started", G_CALLBACK (on_session_started)},
    {"session-requested", G_CALLBACK (on_session_requested)},
    {"session-description", G_CALLBACK (on_session_description)},
    {"handle-ice", G_CALLBACK (on_handle_ice)},
    {"session-ended", G_CALLBACK (on_session_ended)},
    {"error", G_CALLBACK (on_signaller_error)},
    {"warning", G_CALLBACK (on_signaller_warning)},
  });
  return true;
}

void
stop (RtcstreamSrc *self)
{
  State *st = self->state;
  st->stop ([st] {
    st->phase = Phase::Ended;
    st->channels->clear ();
    if (st->session) {
      st->session->close ();
      st->session.reset ();
    }
    st->playout.reset ();
  });
  remove_outputs (self);
  remove_data_outputs (self);
}

std::string
producer_of (RtcstreamSrc *self, const std::string &session_id)
{
  State *st = self->state;
  return st->session && st->session->id () == session_id ? st->session->peer_id ()
                                                         : std::string ();
}

DataChannels::Handlers
channel_handlers (RtcstreamSrc *self)
{
  return message_signal_handlers (GST_ELEMENT (self), src_signals,
      [self] (const std::string &session) { return producer_of (self, session); });
}

gboolean
send_text_action (RtcstreamSrc *self, const gchar *text)
{
  return text && self->state->channels->send_text ({}, text) > 0;
}

gboolean
send_binary_action (RtcstreamSrc *self, GBytes *bytes)
{
  return bytes && self->state->channels->send_binary ({}, bytes) > 0;
}

GstStructure *
build_stats (RtcstreamSrc *self)
{
  State *st = self->state;
  SessionStats ss;
  std::string peer;
  std::shared_ptr<WebrtcSession> session;
  std::shared_ptr<Playout> playout;
  st->worker->run_sync ([st, &session, &playout] {
    session = st->session;
    playout = st->playout;
  });
  if (session) {
    ss = session->stats ();
    peer = session->peer_id ();
  }
  GstStructure *data = gst_structure_new_empty ("data");
  add_data_stats (self, data);
  std::lock_guard<std::mutex> lk (st->lock);
  PlayoutStats ps{st->latency_ms == kAdaptiveLatency ? st->min_latency_ms
                                                     : (guint) st->latency_ms,
      st->latency_ms == kAdaptiveLatency, 0, 0, false, 0};
  if (playout)
    ps = playout->stats ();
  gint capture_age_ms = -1;
  for (const Output &o : st->outputs) {
    const gint64 us = o.kind == MediaKind::Video ? o.flow->capture_age_us.load () : -1;
    if (us >= 0)
      capture_age_ms = (gint) (us / 1000);
  }
  GstStructure *s = gst_structure_new ("application/x-rtcstreamsrc-stats",
      "capture-age", G_TYPE_INT, capture_age_ms,
      "latency", G_TYPE_UINT, ps.latency_ms,
      "latency-adaptive", G_TYPE_BOOLEAN, ps.adaptive,
      "network-delay", G_TYPE_UINT, ps.delay_ms,
      "network-delay-p95", G_TYPE_UINT, ps.in_order_delay_ms,
      "retransmissions-asked", G_TYPE_BOOLEAN, ps.nack,
      "packets-late", G_TYPE_UINT64, ps.packets_late,
      "producer-id", G_TYPE_STRING, peer.c_str (),
      "state", G_TYPE_STRING, ss.state.c_str (),
      "streams", G_TYPE_UINT, (guint) st->outputs.size (),
      "bytes-received", G_TYPE_UINT64, ss.bytes_received,
      "packets-lost", G_TYPE_UINT64, ss.packets_lost,
      "local-candidate-type", G_TYPE_STRING, ss.local_candidate_type.c_str (),
      "remote-candidate-type", G_TYPE_STRING, ss.remote_candidate_type.c_str (),
      "candidate-protocol", G_TYPE_STRING, ss.candidate_protocol.c_str (), nullptr);
  gst_structure_foreach (data, [] (GQuark field, const GValue *v, gpointer s) -> gboolean {
    gst_structure_id_set_value (static_cast<GstStructure *> (s), field, v);
    return TRUE;
  }, s);
  gst_structure_free (data);
  return s;
}

}  // namespace

static GstStateChangeReturn
rtcstream_src_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = RTCSTREAM_SRC (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    if (!start (self))
      return GST_STATE_CHANGE_FAILURE;
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    // Before webrtcbin changes state: see both.
    stop_receiving (GST_BIN (element));
    stop_data_sends (GST_BIN (element));
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (rtcstream_src_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      ret = GST_STATE_CHANGE_NO_PREROLL;  // a live source
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      stop (self);
      break;
    default:
      break;
  }
  return ret;
}

static gboolean
rtcstream_src_send_event (GstElement *element, GstEvent *event)
{
  auto *self = RTCSTREAM_SRC (element);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    // gst-launch -e, or an application ending the pipeline: leave the
    // session and drain every pad, as when the producer stops. Later, on
    // the worker, not waited for: the caller holds the state lock of the
    // pipeline, and closing webrtcbin waits for its streaming threads, which
    // a sink downstream may hold until the pipeline's state lock is free
    // (a sink that lost its state waits in preroll for the pipeline to
    // resume PLAYING).
    gst_event_unref (event);
    Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
    self->state->worker->post ([ref] {
      RtcstreamSrc *self = ref.get ();
      if (self->state->started)
        leave (self, "EOS requested");
      else
        gst_element_post_message (GST_ELEMENT (self), gst_message_new_eos (GST_OBJECT (self)));
    });
    return TRUE;
  }
  return GST_ELEMENT_CLASS (rtcstream_src_parent_class)->send_event (element, event);
}

static void
rtcstream_src_handle_message (GstBin *bin, GstMessage *msg)
{
  // An error inside the webrtcbin (sctpenc when the producer's side aborts
  // the SCTP association, typically as it leaves) is not worth stopping the
  // pipeline for: the session's end arrives through the signaller or as a
  // failed connection, and is reported then. Downgraded to a warning.
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && !session_of_message (bin, msg).empty ()) {
    GError *err = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error (msg, &err, &debug);
    GstMessage *warning = gst_message_new_warning (GST_MESSAGE_SRC (msg), err, debug);
    g_clear_error (&err);
    g_free (debug);
    gst_message_unref (msg);
    msg = warning;
  }
  GST_BIN_CLASS (rtcstream_src_parent_class)->handle_message (bin, msg);
}

static void
rtcstream_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_SRC (object);
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (set_common_property (GST_ELEMENT (self), self->state->settings, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_NAVIGATION:
      self->state->navigation = g_value_get_boolean (value);
      break;
    case PROP_LATENCY:
      self->state->latency_ms = g_value_get_int (value);
      break;
    case PROP_MIN_LATENCY:
      self->state->min_latency_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_LATENCY:
      self->state->max_latency_ms = g_value_get_uint (value);
      break;
    case PROP_PRODUCER_TIMEOUT:
      self->state->producer_timeout_ms = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto *self = RTCSTREAM_SRC (object);
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (get_common_property (self->state->settings, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_NAVIGATION:
      g_value_set_boolean (value, self->state->navigation);
      break;
    case PROP_LATENCY:
      g_value_set_int (value, self->state->latency_ms);
      break;
    case PROP_MIN_LATENCY:
      g_value_set_uint (value, self->state->min_latency_ms);
      break;
    case PROP_MAX_LATENCY:
      g_value_set_uint (value, self->state->max_latency_ms);
      break;
    case PROP_PRODUCER_TIMEOUT:
      g_value_set_int (value, self->state->producer_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_src_init (RtcstreamSrc *self)
{
  self->state = new State ();
  self->state->latency_ms = kAdaptiveLatency;
  self->state->min_latency_ms = kDefaultMinLatencyMs;
  self->state->max_latency_ms = kDefaultMaxLatencyMs;
  self->state->producer_timeout_ms = kDefaultProducerTimeoutMs;
  self->state->init ("rtcstreamsrc", channel_handlers (self));
  self->state->claim_channel = [self] (GstWebRTCDataChannel *ch) {
    return claim_data_channel (self, ch);
  };
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
  // A source to the pipeline, whatever webrtcbin holds: its nicesinks never
  // get EOS, and a bin flagged SINK (GstBin sets the flag when a sink child
  // is added) only posts EOS once every sink inside has, so the pipeline
  // would never end. The pipeline ends when the sinks downstream of the pads
  // have EOS.
  gst_bin_set_suppressed_flags (GST_BIN (self), GST_ELEMENT_FLAG_SINK);
}

static void
rtcstream_src_finalize (GObject *object)
{
  auto *self = RTCSTREAM_SRC (object);
  self->state->finalize ();
  delete self->state;
  G_OBJECT_CLASS (rtcstream_src_parent_class)->finalize (object);
}

static void
rtcstream_src_class_init (RtcstreamSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = rtcstream_src_set_property;
  gobject_class->get_property = rtcstream_src_get_property;
  gobject_class->finalize = rtcstream_src_finalize;
  element_class->change_state = rtcstream_src_change_state;
  element_class->send_event = rtcstream_src_send_event;
  GST_BIN_CLASS (klass)->handle_message = rtcstream_src_handle_message;

  install_common_properties (gobject_class, "watch");
  const auto flags = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_int ("latency", "Latency",
          "Playout delay (jitterbuffer latency) in ms. -1 (the default): adaptive, following "
          "the delay variation (jitter, reordering) measured on every packet, and the round "
          "trip while retransmissions are needed, within min-latency and max-latency: a few "
          "ms on a clean LAN, more on a jittery link. N >= 0: fixed at N ms (0: no "
          "jitterbuffer delay, no retransmissions; over the internet, above the round trip "
          "so that lost packets can be resent in time). The stats show the current value. "
          "The application must redistribute the latency when the pipeline posts a LATENCY "
          "message (gst_bin_recalculate_latency; gst-launch-1.0 does)",
          kAdaptiveLatency, 10000, kAdaptiveLatency, flags));
  g_object_class_install_property (gobject_class, PROP_MIN_LATENCY,
      g_param_spec_uint ("min-latency", "Minimum latency",
          "With latency=-1 (adaptive): the least playout delay in ms, whatever is measured",
          0, 10000, kDefaultMinLatencyMs, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_LATENCY,
      g_param_spec_uint ("max-latency", "Maximum latency",
          "With latency=-1 (adaptive): the most playout delay in ms; packets later than that "
          "are dropped as late. Below 10, no retransmissions are asked for",
          0, 10000, kDefaultMaxLatencyMs, flags));
  g_object_class_install_property (gobject_class, PROP_PRODUCER_TIMEOUT,
      g_param_spec_int ("producer-timeout", "Producer timeout",
          "How long (ms) to wait for the stream to be published before failing with "
          "'stream not found'; -1 waits forever, 0 fails at once",
          -1, G_MAXINT, kDefaultProducerTimeoutMs, flags));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "producer-id, state, streams, bytes-received, packets-lost, local-candidate-type, "
          "remote-candidate-type, candidate-protocol (udp or tcp); latency (the playout delay now, ms), latency-adaptive, "
          "network-delay (the largest packet delay of the last 2 s, ms: what jitter and "
          "reordering ask for), network-delay-p95 (the 95th percentile of the delays of the "
          "packets that came in order, of the last 2 s, ms), retransmissions-asked (whether "
          "the jitterbuffers ask for lost packets again now), packets-late (dropped by the jitterbuffers as too late), "
          "capture-age (ms from the last video frame's capture at the producer, which it "
          "sends in the abs-capture-time RTP header extension, to its leaving the element, "
          "by this host's wall clock: on one host, or with both clocks on NTP, the "
          "glass-to-glass latency less the sink's part; -1: not sent)",
          GST_TYPE_STRUCTURE, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_NAVIGATION,
      g_param_spec_boolean ("navigation", "Navigation",
          "Send the GstNavigation events (mouse, keyboard) that reach the video pads from "
          "downstream, e.g. clicks in a video sink's window, to the producer on its "
          "\"input\" data channel (when it opened one: rtcstreamsink navigation=true)",
          TRUE, flags));

  // data-channel-opened, text-message, binary-message: see props.h.
  install_message_signals (gobject_class, src_signals);
  /**
   * RtcstreamSrc::send-text:
   * @text: the message
   *
   * Action signal: sends a text message to the producer on its "data"
   * channel. Any thread; never blocks. FALSE while no channel is open.
   */
  src_signals[SIGNAL_SEND_TEXT] = g_signal_new_class_handler ("send-text",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (send_text_action), nullptr, nullptr, nullptr,
      G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  /**
   * RtcstreamSrc::send-binary:
   * @data: the message
   *
   * Action signal: as send-text, for binary messages.
   */
  src_signals[SIGNAL_SEND_BINARY] = g_signal_new_class_handler ("send-binary",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (send_binary_action), nullptr, nullptr, nullptr,
      G_TYPE_BOOLEAN, 1, G_TYPE_BYTES);

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_add_static_pad_template (element_class, &data_template);
  gst_element_class_set_static_metadata (element_class, "rtcstream WebRTC source",
      "Source/Network/WebRTC",
      "Receives a stream published over WebRTC, decoded or encoded as downstream wants",
      "rtcstream developers");
}
