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
 * When the producer ends the stream, every pad gets EOS.
 *
 * Threads: the signaller's signals and webrtcbin's replies are handled on
 * the element's Worker; decoding chains are built in webrtcbin's pad-added
 * (a streaming thread) because data waits on them, and nothing there blocks.
 */
#include "rtcstreamsrc.h"

#include <gst/video/video.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "element.h"
#include "rtcstream/codecs.h"
#include "rtcstream/datachannel.h"
#include "rtcstream/sdp.h"
#include "rtcstream/session.h"
#include "rtcstream/worker.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_src_debug);
#define GST_CAT_DEFAULT rtcstream_src_debug

using namespace rtcstream;

namespace {

enum {
  PROP_LATENCY = PROP_COMMON_LAST,
  PROP_PRODUCER_TIMEOUT,
  PROP_STATS,
  PROP_NAVIGATION,
};

guint src_signals[N_MESSAGE_SIGNALS];

// 50 ms of jitterbuffer: plenty on a LAN (RTT ~1 ms leaves time for a few
// retransmissions), lowest latency. Raise it over the internet: the buffer
// must exceed the RTT for NACK retransmissions to arrive in time.
constexpr guint kDefaultLatencyMs = 50;
constexpr gint kDefaultProducerTimeoutMs = 30000;

struct Output {
  GstPad *ghost = nullptr;           // owned by the element
  std::vector<GstElement *> chain;   // depayloader first
  const Codec *codec = nullptr;
  bool encoded = false;
};

// lock (ElementCore) also guards the properties below, outputs and counters.
struct State : ElementCore {
  guint latency_ms = kDefaultLatencyMs;
  gint producer_timeout_ms = kDefaultProducerTimeoutMs;

  std::shared_ptr<WebrtcSession> session;  // worker thread
  std::vector<Output> outputs;             // guarded by lock
  guint video_count = 0, audio_count = 0;
  guint expected_pads = 0;
  bool no_more_pads = false;
  bool ended = false;
  bool offering = false;  // worker: we offered (WHEP) and wait for the answer
  // The id the producer's offer gives transport-wide congestion control
  // feedback (0: none), guarded by lock: written on the worker before the
  // offer is applied, read by on_new_transceiver on webrtcbin's thread.
  guint offer_twcc_id = 0;
};

}  // namespace

struct _RtcstreamSrc {
  GstBin parent;
  State *state;
};

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

namespace {

bool
caps_accept (GstCaps *peer, const char *media_type)
{
  GstCaps *want = gst_caps_new_empty_simple (media_type);
  bool ok = gst_caps_can_intersect (peer, want);
  gst_caps_unref (want);
  return ok;
}

// Any thread: a navigation event from downstream (a video sink's window, an
// application) goes to the producer on the "input" channel, with the frame
// size its coordinates refer to.
GstPadProbeReturn
on_upstream_event (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_NAVIGATION)
    return GST_PAD_PROBE_OK;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    if (!self->state->navigation)
      return GST_PAD_PROBE_OK;
  }
  int width = 0, height = 0;
  if (GstCaps *caps = gst_pad_get_current_caps (pad)) {
    if (gst_caps_get_size (caps) > 0) {
      GstStructure *cs = gst_caps_get_structure (caps, 0);
      gst_structure_get_int (cs, "width", &width);
      gst_structure_get_int (cs, "height", &height);
    }
    gst_caps_unref (caps);
  }
  std::string json = navigation_to_json (event, width, height);
  if (!json.empty ()) {
    GST_LOG_OBJECT (self, "navigation to the producer: %s", json.c_str ());
    self->state->channels->send_input (json);
  }
  return GST_PAD_PROBE_OK;
}

// webrtcbin's thread (pad-added): builds depayloader [! parser | ! decoder]
// and exposes it as video_%u / audio_%u.
void
on_webrtc_pad (GstElement *, GstPad *pad, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  State *st = self->state;
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const Codec *codec = codec_for_rtp_caps (caps);
  GST_INFO_OBJECT (self, "new stream %s: %" GST_PTR_FORMAT, GST_PAD_NAME (pad), caps);
  gst_caps_unref (caps);
  if (!codec) {
    GST_ELEMENT_WARNING (self, STREAM, CODEC_NOT_FOUND,
        ("The producer sent a stream in a codec rtcstreamsrc does not know; ignoring it"),
        ("pad %s", GST_PAD_NAME (pad)));
    return;
  }
  std::string name;
  GstPadTemplate *templ;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    bool video = codec->kind == MediaKind::Video;
    name = std::string (video ? "video_" : "audio_") +
        std::to_string (video ? st->video_count++ : st->audio_count++);
    templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
        video ? "video_%u" : "audio_%u");
  }
  Output out;
  out.codec = codec;
  out.ghost = gst_ghost_pad_new_no_target_from_template (name.c_str (), templ);
  gst_pad_set_active (out.ghost, TRUE);
  // Expose first: gst-launch and applications link in pad-added, and then
  // the peer's caps tell whether it wants encoded or raw media.
  gst_element_add_pad (GST_ELEMENT (self), out.ghost);
  GstCaps *peer = gst_pad_peer_query_caps (out.ghost, nullptr);
  out.encoded = gst_pad_is_linked (out.ghost) && caps_accept (peer, codec->encoded_caps) &&
      !caps_accept (peer, raw_caps_name (codec->kind));
  gst_caps_unref (peer);

  std::string base = name;
  out.chain.push_back (make_depayloader (*codec, (base + "-depay").c_str ()));
  if (out.encoded) {
    if (GstElement *parser = make_parser (*codec, (base + "-parse").c_str ()))
      out.chain.push_back (parser);
  } else {
    if (std::string (codec->name) == "H264")
      out.chain.push_back (make_parser (*codec, (base + "-parse").c_str ()));
    out.chain.push_back (make_decoder (*codec, (base + "-dec").c_str ()));
    if (codec->kind == MediaKind::Audio) {
      out.chain.push_back (gst_element_factory_make ("audioconvert", (base + "-convert").c_str ()));
    }
  }
  for (GstElement *e : out.chain) {
    if (!e) {
      GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
          ("Cannot %s %s: its GStreamer plugin is missing (install gstreamer1.0-plugins-good, "
           "-bad and gstreamer1.0-libav)", out.encoded ? "depayload" : "decode", codec->name),
          (nullptr));
      for (GstElement *x : out.chain)
        if (x)
          gst_object_unref (x);
      return;
    }
  }
  for (GstElement *e : out.chain)
    gst_bin_add (GST_BIN (self), e);
  for (size_t i = 0; i + 1 < out.chain.size (); i++)
    gst_element_link (out.chain[i], out.chain[i + 1]);
  GstPad *last_src = gst_element_get_static_pad (out.chain.back (), "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (out.ghost), last_src);
  // A stream nobody linked (say audio in `rtcstreamsrc ! videoconvert ! ...`)
  // is dropped here: its not-linked would otherwise stop the whole session.
  gst_pad_add_probe (last_src, GST_PAD_PROBE_TYPE_BUFFER,
      [] (GstPad *, GstPadProbeInfo *, gpointer ghost) -> GstPadProbeReturn {
        return gst_pad_is_linked (GST_PAD (ghost)) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
      }, out.ghost, nullptr);
  gst_object_unref (last_src);
  if (codec->kind == MediaKind::Video)
    gst_pad_add_probe (out.ghost, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event, self,
        nullptr);
  for (auto it = out.chain.rbegin (); it != out.chain.rend (); ++it)
    gst_element_sync_state_with_parent (*it);
  GstPad *depay_sink = gst_element_get_static_pad (out.chain.front (), "sink");
  if (gst_pad_link (pad, depay_sink) != GST_PAD_LINK_OK)
    GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("Could not link the %s stream", codec->name),
        (nullptr));
  // Video can only be decoded from a keyframe. A producer sends one when a
  // session starts, but one that relays (an SFU, a WHEP server) may be mid-
  // stream: ask for one (webrtcbin turns it into a PLI) with the first packet.
  if (codec->kind == MediaKind::Video)
    gst_pad_add_probe (depay_sink, GST_PAD_PROBE_TYPE_BUFFER,
        [] (GstPad *sinkpad, GstPadProbeInfo *, gpointer) -> GstPadProbeReturn {
          gst_pad_push_event (sinkpad,
              gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
          return GST_PAD_PROBE_REMOVE;
        }, nullptr, nullptr);
  gst_object_unref (depay_sink);
  GST_INFO_OBJECT (self, "exposed %s (%s, %s)", name.c_str (), codec->name,
      out.encoded ? "encoded" : "decoded");

  bool all;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->outputs.push_back (out);
    all = !st->no_more_pads && st->expected_pads > 0 && st->outputs.size () >= st->expected_pads;
    if (all)
      st->no_more_pads = true;
  }
  if (all)
    gst_element_no_more_pads (GST_ELEMENT (self));
}

// Worker: restrict the answer to the codecs we can decode, in our order.
void
on_new_transceiver (GstElement *, GstWebRTCRTPTransceiver *trans, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  CommonSettings s = self->state->copy_settings ();
  GstCaps *prefs = gst_caps_new_empty ();
  guint twcc_id;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    twcc_id = self->state->offer_twcc_id;
  }
  for (const auto *list : {&s.video_codecs, &s.audio_codecs})
    for (const Codec *c : *list)
      if (can_decode (*c))
        gst_caps_append (prefs, rtp_match_caps (*c));
  // Accept the transport-wide congestion control feedback the producer
  // offers (with its id): webrtcbin answers only the header extensions that
  // the codec preferences name, and the producer adapts its bitrate to it.
  if (twcc_id) {
    std::string extmap = "extmap-" + std::to_string (twcc_id);
    for (guint i = 0; i < gst_caps_get_size (prefs); i++)
      gst_structure_set (gst_caps_get_structure (prefs, i), extmap.c_str (), G_TYPE_STRING,
          kTwccExtensionUri, nullptr);
  }
  // do-nack: the jitterbuffer asks for lost packets again (RTX or plain
  // NACK), which the latency property leaves room for.
  g_object_set (trans, "codec-preferences", prefs, "direction",
      GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, "do-nack", TRUE, nullptr);
  gst_caps_unref (prefs);
}

void
end_stream (RtcstreamSrc *self, const char *why)
{
  State *st = self->state;
  if (st->ended)
    return;
  st->ended = true;
  st->channels->clear ();
  if (st->session)
    st->session->close ();  // stops webrtcbin's streaming threads first
  std::vector<Output> outputs;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    outputs = st->outputs;
  }
  if (outputs.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The producer ended the session before sending any media (%s)", why), (nullptr));
    return;
  }
  GST_INFO_OBJECT (self, "stream ended (%s): EOS on %zu pads", why, outputs.size ());
  for (Output &o : outputs) {
    GstPad *sink = gst_element_get_static_pad (o.chain.front (), "sink");
    gst_pad_send_event (sink, gst_event_new_eos ());
    gst_object_unref (sink);
  }
}

// --- signaller callbacks (signaller thread) -> worker ----------------------------

void
on_session_started (RtcstreamSignaller *, const gchar *sid, const gchar *peer, gpointer user)
{
  std::string s = sid, p = peer;
  on_worker (RTCSTREAM_SRC (user), [s, p] (RtcstreamSrc *self) {
    State *st = self->state;
    if (st->session) {
      GST_WARNING_OBJECT (self, "already in a session, ignoring %s", s.c_str ());
      return;
    }
    CommonSettings settings;
    guint latency;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      settings = st->settings;
      latency = st->latency_ms;
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
    g_signal_connect (w, "pad-added", G_CALLBACK (on_webrtc_pad), self);
    g_signal_connect (w, "on-new-transceiver", G_CALLBACK (on_new_transceiver), self);
    st->adopt_remote_channels (s, w);
    st->session->sync_state ();
    GST_INFO_OBJECT (self, "joined producer %s (session %s)", p.c_str (), s.c_str ());
  });
}

// Worker: we offer (WHEP): one recvonly transceiver per media kind with the
// codecs we decode, in the order of video-codecs / audio-codecs.
void
offer_session (RtcstreamSrc *self)
{
  State *st = self->state;
  if (!st->session || !st->session->webrtcbin ())
    return;
  CommonSettings settings = st->copy_settings ();
  GstElement *w = st->session->webrtcbin ();
  guint added = 0;
  for (const auto *list : {&settings.video_codecs, &settings.audio_codecs}) {
    GstCaps *caps = gst_caps_new_empty ();
    for (const Codec *c : *list)
      if (can_decode (*c))
        gst_caps_append (caps, rtp_caps (*c, c->default_pt, true));
    if (gst_caps_is_empty (caps)) {
      gst_caps_unref (caps);
      continue;
    }
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_signal_emit_by_name (w, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY,
        caps, &trans);
    if (trans) {
      // Set again after on-new-transceiver, which fits answers, not offers.
      g_object_set (trans, "codec-preferences", caps, "direction",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, "do-nack", TRUE, nullptr);
      gst_object_unref (trans);
      added++;
    }
    gst_caps_unref (caps);
  }
  if (added == 0) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("None of the codecs in video-codecs and audio-codecs can be decoded here: install "
         "gstreamer1.0-plugins-good, -bad and gstreamer1.0-libav"), (nullptr));
    return;
  }
  st->offering = true;
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
    if (self->state->session && self->state->session->id () == s && !self->state->offering)
      offer_session (self);
  });
}

// Worker: the answer to our offer.
void
apply_answer (RtcstreamSrc *self, const std::string &sid,
    std::shared_ptr<GstWebRTCSessionDescription> answer)
{
  State *st = self->state;
  if (!st->session || st->session->id () != sid || !st->offering) {
    GST_WARNING_OBJECT (self, "session %s: an answer to no offer of ours, ignoring",
        sid.c_str ());
    return;
  }
  st->offering = false;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->expected_pads = sdp_count_sending_media (answer.get ());
  }
  Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
  st->session->set_remote (answer.get (), [ref, sid] (const std::string &err) {
    if (err.empty ())
      return;
    State *st = ref->state;
    st->ended = true;  // our error, not the producer's end
    if (st->signaller)
      rtcstream_signaller_end_session (st->signaller.get (), sid.c_str ());
    GST_ELEMENT_ERROR (ref.get (), STREAM, CODEC_NOT_FOUND,
        ("The producer's answer could not be applied: %s", err.c_str ()), (nullptr));
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
    if (!st->session || st->session->id () != s)
      return;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      st->expected_pads = sdp_count_receiving_media (holder.get ());
      st->offer_twcc_id = sdp_extmap_id (holder->sdp, kTwccExtensionUri);
    }
    Ref<RtcstreamSrc> ref = Ref<RtcstreamSrc>::take_ref (self);
    auto fail = [ref] (const std::string &what) {
      if (ref->state->session && ref->state->signaller)
        rtcstream_signaller_end_session (ref->state->signaller.get (),
            ref->state->session->id ().c_str ());
      std::string accepted;
      {
        std::lock_guard<std::mutex> lk (ref->state->lock);
        accepted = codec_list_to_string (ref->state->settings.video_codecs) + "," +
            codec_list_to_string (ref->state->settings.audio_codecs);
      }
      GST_ELEMENT_ERROR (ref.get (), STREAM, CODEC_NOT_FOUND,
          ("Negotiation with the producer failed: %s. This element accepts %s "
           "(video-codecs, audio-codecs): the producer must offer one of them",
              what.c_str (), accepted.c_str ()), (nullptr));
    };
    CommonSettings settings = st->copy_settings ();
    std::string unsupported =
        sdp_undecodable_offer (holder.get (), settings.video_codecs, settings.audio_codecs);
    if (!unsupported.empty ()) {
      st->ended = true;  // our error, not the producer's end
      fail ("no codec in common: " + unsupported);
      return;
    }
    st->session->set_remote (holder.get (), [ref, fail] (const std::string &err) {
      if (!err.empty ()) {
        fail (err);
        return;
      }
      ref->state->session->answer ([fail] (const std::string &err) {
        if (!err.empty ())
          fail (err);
      });
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
      end_stream (self, "the producer stopped");
  });
}

void
on_signaller_error (RtcstreamSignaller *, GError *err, gpointer user)
{
  auto *self = RTCSTREAM_SRC (user);
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s", err->message),
      ("signaller error domain %s code %d", g_quark_to_string (err->domain), err->code));
}

bool
start (RtcstreamSrc *self)
{
  State *st = self->state;
  std::string error;
  RtcstreamSignaller *sig;
  gint timeout;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    sig = ensure_signaller (st->settings, RTCSTREAM_ROLE_CONSUMER, error);
    timeout = st->producer_timeout_ms;
    st->outputs.clear ();
    st->video_count = st->audio_count = 0;
    st->expected_pads = 0;
    st->no_more_pads = false;
  }
  if (!sig) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return false;
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (sig), "producer-timeout"))
    g_object_set (sig, "producer-timeout", timeout, nullptr);
  auto on_start = [st] { st->ended = false; };
  auto refresh_stats = [st] {
    if (st->session)
      st->session->refresh_stats ();
  };
  st->start (GST_ELEMENT (self), sig, on_start, refresh_stats, {
    {"session-started", G_CALLBACK (on_session_started)},
    {"session-requested", G_CALLBACK (on_session_requested)},
    {"session-description", G_CALLBACK (on_session_description)},
    {"handle-ice", G_CALLBACK (on_handle_ice)},
    {"session-ended", G_CALLBACK (on_session_ended)},
    {"error", G_CALLBACK (on_signaller_error)},
  });
  return true;
}

void
stop (RtcstreamSrc *self)
{
  State *st = self->state;
  st->stop ([st] {
    st->channels->clear ();
    if (st->session) {
      st->session->close ();
      st->session.reset ();
    }
  });
  std::vector<Output> outputs;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    outputs.swap (st->outputs);
  }
  for (Output &o : outputs) {
    gst_element_remove_pad (GST_ELEMENT (self), o.ghost);
    for (GstElement *e : o.chain) {
      gst_element_set_state (e, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self), e);
    }
  }
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
  st->worker->run_sync ([st, &session] { session = st->session; });
  if (session) {
    ss = session->stats ();
    peer = session->peer_id ();
  }
  std::lock_guard<std::mutex> lk (st->lock);
  return gst_structure_new ("application/x-rtcstreamsrc-stats",
      "producer-id", G_TYPE_STRING, peer.c_str (),
      "state", G_TYPE_STRING, ss.state.c_str (),
      "streams", G_TYPE_UINT, (guint) st->outputs.size (),
      "bytes-received", G_TYPE_UINT64, ss.bytes_received,
      "packets-lost", G_TYPE_UINT64, ss.packets_lost,
      "local-candidate-type", G_TYPE_STRING, ss.local_candidate_type.c_str (),
      "remote-candidate-type", G_TYPE_STRING, ss.remote_candidate_type.c_str (), nullptr);
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
    // session and drain every pad, as when the producer stops.
    gst_event_unref (event);
    bool handled = false;
    self->state->worker->run_sync ([self, &handled] {
      State *st = self->state;
      if (!st->started)
        return;
      if (st->session && st->signaller)
        rtcstream_signaller_end_session (st->signaller.get (), st->session->id ().c_str ());
      bool had_outputs;
      {
        std::lock_guard<std::mutex> lk (st->lock);
        had_outputs = !st->outputs.empty ();
      }
      if (had_outputs)
        end_stream (self, "EOS requested");
      handled = had_outputs;
    });
    if (!handled)
      gst_element_post_message (element, gst_message_new_eos (GST_OBJECT (element)));
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
      self->state->latency_ms = g_value_get_uint (value);
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
      g_value_set_uint (value, self->state->latency_ms);
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
  self->state->init ("rtcstreamsrc", channel_handlers (self));
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
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
      g_param_spec_uint ("latency", "Latency",
          "Jitterbuffer size in ms. The default (50) suits a LAN: lowest delay, room for "
          "a few retransmissions. Over the internet raise it above the round-trip time "
          "(e.g. 200) so lost packets can be resent before their playout time",
          0, 10000, kDefaultLatencyMs, flags));
  g_object_class_install_property (gobject_class, PROP_PRODUCER_TIMEOUT,
      g_param_spec_int ("producer-timeout", "Producer timeout",
          "How long (ms) to wait for the stream to be published before failing with "
          "'stream not found'; -1 waits forever, 0 fails at once",
          -1, G_MAXINT, kDefaultProducerTimeoutMs, flags));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "producer-id, state, streams, bytes-received, packets-lost",
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
  gst_element_class_set_static_metadata (element_class, "rtcstream WebRTC source",
      "Source/Network/WebRTC",
      "Receives a stream published over WebRTC, decoded or encoded as downstream wants",
      "rtcstream developers");
}
