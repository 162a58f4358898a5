// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-rtcstreamsink
 *
 * Publishes the streams on its request pads over WebRTC to every consumer
 * that asks, through a signaller (by default our websocket protocol to
 * rtcstream-signalling, chosen by `uri`).
 *
 * Raw input is encoded in the codec each consumer accepts; consumers that
 * agree on a codec share one encoder. Already encoded input (H264, VP8, VP9,
 * Opus) is sent as is.
 *
 *     gst-launch-1.0 videotestsrc is-live=true ! rtcstreamsink uri=rtcstream://127.0.0.1:8443/cam
 *
 * Threads: pads are requested from the application thread; the signaller's
 * signals and webrtcbin's replies are handed to the element's Worker, where
 * every consumer and encoder change happens. Streaming threads only read
 * caps and count EOS.
 */
#include "rtcstreamsink.h"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <map>
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

GST_DEBUG_CATEGORY_STATIC (rtcstream_sink_debug);
#define GST_CAT_DEFAULT rtcstream_sink_debug

using namespace rtcstream;

namespace {

enum {
  PROP_STATS = PROP_COMMON_LAST,
  PROP_NAVIGATION,
  PROP_DATA_CHANNEL,
};

enum {
  SIGNAL_CONSUMER_ADDED,
  SIGNAL_CONSUMER_REMOVED,
  SIGNAL_DATA_CHANNEL_OPENED,
  SIGNAL_TEXT_MESSAGE,
  SIGNAL_BINARY_MESSAGE,
  SIGNAL_SEND_TEXT,
  SIGNAL_SEND_BINARY,
  N_SIGNALS,
};
guint sink_signals[N_SIGNALS];

// Keyframe requests closer together than this are merged into one.
constexpr gint64 kKeyframeMinIntervalUs = 200 * 1000;

struct InputStream {
  std::string name;         // video_0, audio_0
  MediaKind kind;
  GstPad *ghost = nullptr;  // owned by the element
  GstElement *tee = nullptr;
  GstElement *prefer = nullptr;    // capsfilter before fakesink
  GstElement *fakesink = nullptr;
  GstCaps *caps = nullptr;  // last caps seen, guarded by the state lock
  bool eos = false;
};

struct EncoderGroup {
  InputStream *input = nullptr;
  const Codec *codec = nullptr;
  bool encodes = false;              // false: passes encoded input through
  std::vector<GstElement *> elements; // in link order, last is the tee
  GstElement *tee = nullptr;
  GstPad *input_tee_pad = nullptr;   // request pad on input->tee
  int consumers = 0;
  std::atomic<gint64> last_keyframe_request{0};
  std::atomic<bool> trailing_request{false};  // a merged request is to be resent
  RtcstreamSink *owner = nullptr;
};

struct Branch {
  EncoderGroup *group = nullptr;
  GstElement *queue = nullptr;
  GstElement *payloader = nullptr;
  GstPad *group_tee_pad = nullptr;
};

struct Consumer {
  std::shared_ptr<WebrtcSession> session;
  std::vector<std::pair<InputStream *, GstPad *>> pads;  // webrtcbin sink pads per input
  std::vector<Branch> branches;
  std::vector<std::string> offered;  // offered codec lists, per input, for messages
  // SSRC per input, announced in the offer (a=ssrc) and used by the
  // payloader: an SFU such as Janus routes by the SSRCs of the offer.
  std::vector<guint> ssrcs;
  bool linked = false;
  bool announced = false;  // consumer-added was emitted
};

// lock (ElementCore) also guards the inputs' caps, the consumer stats view
// and counters.
struct State : ElementCore {
  // Worker-only state (also read with lock held for stats).
  std::vector<std::unique_ptr<InputStream>> inputs;
  std::map<std::string, std::shared_ptr<Consumer>> consumers;
  std::vector<std::unique_ptr<EncoderGroup>> groups;
  std::vector<std::pair<std::string, std::string>> pending;  // sessions waiting for caps
  guint video_pads = 0, audio_pads = 0;
  bool eos_posted = false;
  bool data_channel = false;  // guarded by lock
};

}  // namespace

struct _RtcstreamSink {
  GstBin parent;
  State *state;
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamSink, rtcstream_sink, GST_TYPE_BIN,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        (uri_handler_init<GST_URI_SINK, core_settings<RtcstreamSink>>))
    GST_DEBUG_CATEGORY_INIT (rtcstream_sink_debug, "rtcstreamsink", 0,
        "rtcstream WebRTC producer element"))
GST_ELEMENT_REGISTER_DEFINE (rtcstreamsink, "rtcstreamsink", GST_RANK_NONE, RTCSTREAM_TYPE_SINK)

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE ("video_%u",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("video/x-raw; video/x-raw(ANY); video/x-vp8; video/x-vp9; "
        "video/x-h264, stream-format=(string){byte-stream, avc}, alignment=(string)au"));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio_%u",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

namespace {

RtcstreamSink *
self_from (gpointer p)
{
  return RTCSTREAM_SINK (p);
}

// --- helpers ------------------------------------------------------------------

GstElement *
make_element (const char *factory, const std::string &name)
{
  return gst_element_factory_make (factory, name.empty () ? nullptr : name.c_str ());
}

void
remove_elements (GstBin *bin, const std::vector<GstElement *> &elements)
{
  for (GstElement *e : elements) {
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (bin, e);
  }
}

void
request_keyframe (GstPad *pad)
{
  GstEvent *ev = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);
  gst_pad_push_event (pad, ev);  // upstream, from a sink pad to its peer
}

std::vector<const Codec *>
candidate_codecs (const CommonSettings &s, const InputStream &in, GstCaps *caps)
{
  std::vector<const Codec *> out;
  if (const Codec *enc = codec_for_encoded_caps (caps)) {
    if (can_payload (*enc))
      out.push_back (enc);
    return out;
  }
  const auto &prefs = in.kind == MediaKind::Video ? s.video_codecs : s.audio_codecs;
  for (const Codec *c : prefs)
    if (can_encode (*c))
      out.push_back (c);
  return out;
}

// --- teardown ----------------------------------------------------------------

void release_group_if_unused (RtcstreamSink *self, EncoderGroup *group);

// Worker thread. Unlinks and removes one consumer completely.
void
remove_consumer (RtcstreamSink *self, const std::string &session_id, bool tell_signaller)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->consumers.erase (it);
  }
  GST_INFO_OBJECT (self, "removing consumer %s (session %s)", c->session->peer_id ().c_str (),
      session_id.c_str ());
  for (Branch &b : c->branches) {
    // Unlink from the encoder's tee first: the tee keeps feeding the others.
    GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
    gst_pad_unlink (b.group_tee_pad, qsink);
    gst_object_unref (qsink);
    gst_element_release_request_pad (b.group->tee, b.group_tee_pad);
    gst_object_unref (b.group_tee_pad);
    // A consumer that never connected has its queue's thread blocked inside
    // webrtcbin, which holds data until DTLS is up: flush it out, or
    // stopping the queue would wait for that thread forever.
    GstPad *qsrc = gst_element_get_static_pad (b.queue, "src");
    gst_pad_push_event (qsrc, gst_event_new_flush_start ());
    gst_object_unref (qsrc);
    remove_elements (GST_BIN (self), {b.queue, b.payloader});
    b.group->consumers--;
  }
  for (auto &p : c->pads)
    gst_object_unref (p.second);
  c->pads.clear ();
  for (Branch &b : c->branches)
    release_group_if_unused (self, b.group);
  c->branches.clear ();
  GstElement *webrtc = c->session->webrtcbin ();
  std::string peer = c->session->peer_id ();
  if (webrtc)
    gst_object_ref (webrtc);
  st->channels->remove_session (session_id);
  c->session->close ();
  if (tell_signaller && st->signaller)
    rtcstream_signaller_end_session (st->signaller.get (), session_id.c_str ());
  if (c->announced)
    g_signal_emit (self, sink_signals[SIGNAL_CONSUMER_REMOVED], 0, peer.c_str (), webrtc);
  if (webrtc)
    gst_object_unref (webrtc);
}

void
release_group_if_unused (RtcstreamSink *self, EncoderGroup *group)
{
  State *st = self->state;
  if (group->consumers > 0)
    return;
  GST_INFO_OBJECT (self, "no consumer uses %s for %s any more, removing it",
      group->codec->name, group->input->name.c_str ());
  GstPad *first_sink = gst_element_get_static_pad (group->elements.front (), "sink");
  gst_pad_unlink (group->input_tee_pad, first_sink);
  gst_object_unref (first_sink);
  gst_element_release_request_pad (group->input->tee, group->input_tee_pad);
  gst_object_unref (group->input_tee_pad);
  remove_elements (GST_BIN (self), group->elements);
  std::lock_guard<std::mutex> lk (st->lock);
  st->groups.erase (std::remove_if (st->groups.begin (), st->groups.end (),
      [group] (const std::unique_ptr<EncoderGroup> &g) { return g.get () == group; }),
      st->groups.end ());
}

// --- encoder groups ----------------------------------------------------------

// Worker thread: the request merged into the last one is sent now, so
// that a consumer that joined just after it still gets a keyframe it can
// use (with relayed input the first one may reach it before its session is
// up).
void
resend_keyframe_request (RtcstreamSink *self, EncoderGroup *group)
{
  State *st = self->state;
  bool alive = false;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto &g : st->groups)
      alive |= g.get () == group;
  }
  if (!alive || !group->trailing_request.exchange (false))
    return;
  GstPad *tee_sink = gst_element_get_static_pad (group->tee, "sink");
  GST_DEBUG_OBJECT (self, "sending the keyframe request merged earlier");
  gst_pad_push_event (tee_sink,
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (tee_sink);
}

// Streaming or worker thread: keyframe requests from consumers closer than
// kKeyframeMinIntervalUs become one request now and, if any came in
// between, one more at the end of the interval.
GstPadProbeReturn
limit_keyframe_requests (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *group = static_cast<EncoderGroup *> (data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (!gst_video_event_is_force_key_unit (ev))
    return GST_PAD_PROBE_OK;
  gint64 now = g_get_monotonic_time ();
  gint64 last = group->last_keyframe_request.load ();
  if (now - last < kKeyframeMinIntervalUs) {
    GST_LOG ("merging keyframe request into one %" G_GINT64_FORMAT " us ago", now - last);
    if (!group->trailing_request.exchange (true)) {
      RtcstreamSink *self = group->owner;
      Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
      guint delay_ms = (guint) ((kKeyframeMinIntervalUs - (now - last)) / 1000) + 1;
      self->state->worker->post_delayed (delay_ms, [ref, group] {
        if (ref->state->started)
          resend_keyframe_request (ref.get (), group);
      });
    }
    return GST_PAD_PROBE_DROP;
  }
  group->last_keyframe_request.store (now);
  group->trailing_request.store (false);
  return GST_PAD_PROBE_OK;
}

// Worker thread. The group encoding input in codec, made on first use.
EncoderGroup *
get_group (RtcstreamSink *self, InputStream *in, const Codec *codec, std::string &error)
{
  State *st = self->state;
  for (auto &g : st->groups)
    if (g->input == in && g->codec == codec)
      return g.get ();

  auto group = std::make_unique<EncoderGroup> ();
  group->owner = self;
  group->input = in;
  group->codec = codec;
  GstCaps *caps;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    caps = in->caps ? gst_caps_ref (in->caps) : nullptr;
  }
  group->encodes = codec_for_encoded_caps (caps) == nullptr;
  if (caps)
    gst_caps_unref (caps);
  std::string base = in->name + "-" + codec->name;
  std::vector<GstElement *> &els = group->elements;
  if (group->encodes) {
    // A leaky queue gives the encoder its own thread and drops frames
    // rather than building latency when the encoder falls behind.
    GstElement *q = make_element ("queue", base + "-queue");
    g_object_set (q, "max-size-buffers", 3u, "max-size-bytes", 0u, "max-size-time",
        (guint64) 0, nullptr);
    gst_util_set_object_arg (G_OBJECT (q), "leaky", "downstream");
    els.push_back (q);
    if (codec->kind == MediaKind::Video) {
      els.push_back (make_element ("videoconvert", base + "-convert"));
    } else {
      els.push_back (make_element ("audioconvert", base + "-convert"));
      els.push_back (make_element ("audioresample", base + "-resample"));
    }
    GstElement *filter = make_element ("capsfilter", base + "-rawcaps");
    GstCaps *raw = encoder_input_caps (*codec);
    g_object_set (filter, "caps", raw, nullptr);
    gst_caps_unref (raw);
    els.push_back (filter);
    GstElement *enc = make_encoder (*codec, (base + "-encoder").c_str ());
    if (!enc) {
      error = std::string ("encoder ") + codec->encoder + " is missing";
      for (GstElement *e : els)
        gst_object_unref (e);
      return nullptr;
    }
    els.push_back (enc);
  } else if (GstElement *parser = make_parser (*codec, (base + "-parse").c_str ())) {
    els.push_back (parser);
  }
  if (std::string (codec->name) == "H264") {
    // Byte-stream with in-band SPS/PPS: the payloader then does not put the
    // encoder's exact profile-level-id in its caps, which webrtcbin would
    // refuse when it differs from the negotiated one (level asymmetry is
    // allowed in the SDP, and decoders read the SPS anyway).
    GstElement *f = make_element ("capsfilter", base + "-h264caps");
    GstCaps *h = gst_caps_from_string (group->encodes
        ? "video/x-h264, profile=(string)constrained-baseline, stream-format=(string)byte-stream"
        : "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au");
    g_object_set (f, "caps", h, nullptr);
    gst_caps_unref (h);
    els.push_back (f);
  }
  GstElement *tee = make_element ("tee", base + "-tee");
  g_object_set (tee, "allow-not-linked", TRUE, nullptr);
  els.push_back (tee);
  group->tee = tee;

  for (GstElement *e : els)
    gst_bin_add (GST_BIN (self), e);
  for (size_t i = 0; i + 1 < els.size (); i++) {
    if (!gst_element_link (els[i], els[i + 1])) {
      error = "could not link the " + std::string (codec->name) + " encoding chain";
      remove_elements (GST_BIN (self), els);
      return nullptr;
    }
  }
  GstPad *tee_sink = gst_element_get_static_pad (tee, "sink");
  gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, limit_keyframe_requests,
      group.get (), nullptr);
  gst_object_unref (tee_sink);
  for (auto it = els.rbegin (); it != els.rend (); ++it)
    gst_element_sync_state_with_parent (*it);

  group->input_tee_pad = gst_element_request_pad_simple (in->tee, "src_%u");
  GstPad *first_sink = gst_element_get_static_pad (els.front (), "sink");
  GstPadLinkReturn lr = gst_pad_link (group->input_tee_pad, first_sink);
  gst_object_unref (first_sink);
  if (lr != GST_PAD_LINK_OK) {
    error = "could not link the input to the " + std::string (codec->name) + " chain";
    gst_element_release_request_pad (in->tee, group->input_tee_pad);
    gst_object_unref (group->input_tee_pad);
    remove_elements (GST_BIN (self), els);
    return nullptr;
  }
  GST_INFO_OBJECT (self, "%s %s for %s", group->encodes ? "encoding" : "passing through",
      codec->name, in->name.c_str ());
  EncoderGroup *ret = group.get ();
  std::lock_guard<std::mutex> lk (st->lock);
  st->groups.push_back (std::move (group));
  return ret;
}

// --- consumers -----------------------------------------------------------------

void
warn_consumer (RtcstreamSink *self, const std::string &peer, const std::string &msg)
{
  GST_ELEMENT_WARNING (self, STREAM, FAILED,
      ("Consumer %s: %s", peer.c_str (), msg.c_str ()), (nullptr));
}

// Worker thread: the answer is applied; link each input to the codec chosen.
void
link_consumer (RtcstreamSink *self, const std::string &session_id)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  GstWebRTCSessionDescription *answer = c->session->remote_description ();
  if (!answer) {
    warn_consumer (self, c->session->peer_id (), "no answer applied");
    remove_consumer (self, session_id, true);
    return;
  }
  std::string codecs_used;
  std::string error;
  for (size_t i = 0; i < c->pads.size () && error.empty (); i++) {
    InputStream *in = c->pads[i].first;
    GstPad *wpad = c->pads[i].second;
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_object_get (wpad, "transceiver", &trans, nullptr);
    guint mline = i;
    if (trans) {
      g_object_get (trans, "mlineindex", &mline, nullptr);
      gst_object_unref (trans);
    }
    guint pt = 0;
    std::string name = sdp_media_codec (answer->sdp, mline, &pt);
    const Codec *codec = name.empty () ? nullptr : codec_by_name (name);
    if (!codec) {
      error = "it accepts none of the codecs offered for " + in->name + " (" +
          c->offered[i] + "). Add a codec it supports to " +
          (in->kind == MediaKind::Video ? "video-codecs" : "audio-codecs") +
          " or publish in a codec it supports";
      break;
    }
    EncoderGroup *group = get_group (self, in, codec, error);
    if (!group)
      break;
    Branch b;
    b.group = group;
    std::string base = session_id.substr (0, 8) + "-" + in->name;
    b.queue = make_element ("queue", base + "-queue");
    // Leaky: a consumer that cannot keep up (or whose DTLS handshake is not
    // done yet) loses frames instead of stalling the encoder for everyone.
    g_object_set (b.queue, "max-size-buffers", 0u, "max-size-bytes", 0u, "max-size-time",
        (guint64) (500 * GST_MSECOND), nullptr);
    gst_util_set_object_arg (G_OBJECT (b.queue), "leaky", "downstream");
    b.payloader = make_payloader (*codec, pt, (base + "-pay").c_str ());
    if (b.payloader && i < c->ssrcs.size ())
      g_object_set (b.payloader, "ssrc", c->ssrcs[i], nullptr);
    if (!b.payloader) {
      gst_object_unref (b.queue);
      error = std::string ("payloader ") + codec->payloader + " is missing";
      break;
    }
    gst_bin_add_many (GST_BIN (self), b.queue, b.payloader, nullptr);
    GstPad *pay_src = gst_element_get_static_pad (b.payloader, "src");
    bool ok = gst_element_link (b.queue, b.payloader) &&
        gst_pad_link (pay_src, wpad) == GST_PAD_LINK_OK;
    gst_object_unref (pay_src);
    gst_element_sync_state_with_parent (b.payloader);
    gst_element_sync_state_with_parent (b.queue);
    b.group_tee_pad = gst_element_request_pad_simple (group->tee, "src_%u");
    GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
    ok = ok && gst_pad_link (b.group_tee_pad, qsink) == GST_PAD_LINK_OK;
    group->consumers++;
    c->branches.push_back (b);
    if (!ok) {
      gst_object_unref (qsink);
      error = "could not link " + in->name + " to the WebRTC session";
      break;
    }
    // A joining consumer needs a keyframe now, not at the next interval.
    request_keyframe (qsink);
    gst_object_unref (qsink);
    codecs_used += (codecs_used.empty () ? "" : ",") + std::string (codec->name);
  }
  gst_webrtc_session_description_free (answer);
  if (!error.empty ()) {
    warn_consumer (self, c->session->peer_id (), error);
    remove_consumer (self, session_id, true);
    return;
  }
  c->linked = true;
  c->session->set_codecs (codecs_used);
  GST_INFO_OBJECT (self, "consumer %s receives %s", c->session->peer_id ().c_str (),
      codecs_used.c_str ());
}

void
on_consumer_state (RtcstreamSink *self, const std::string &session_id,
    GstWebRTCPeerConnectionState state)
{
  State *st = self->state;
  auto it = st->consumers.find (session_id);
  if (it == st->consumers.end ())
    return;
  std::shared_ptr<Consumer> c = it->second;
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    // DTLS is up: frames flow from now on, so ask for a fresh keyframe.
    for (Branch &b : c->branches) {
      GstPad *qsink = gst_element_get_static_pad (b.queue, "sink");
      request_keyframe (qsink);
      gst_object_unref (qsink);
    }
  } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    std::string why = c->session->failure ();
    warn_consumer (self, c->session->peer_id (), why.empty ()
            ? "the connection failed (ICE or DTLS): no network path to it. On separate "
              "networks set stun-server and turn-servers"
            : "the connection failed: " + why);
    remove_consumer (self, session_id, true);
  }
}

// Worker thread: the channels this element offers, and any the consumer opens.
void
open_channels (RtcstreamSink *self, const std::string &session_id, GstElement *webrtc)
{
  State *st = self->state;
  bool navigation, data;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    navigation = st->navigation;
    data = st->data_channel;
  }
  // A signaller whose endpoint takes audio and video only (WHIP) says so:
  // a data channel in the offer would make it refuse the whole session.
  gboolean media_only = FALSE;
  if (st->signaller &&
      g_object_class_find_property (G_OBJECT_GET_CLASS (st->signaller.get ()), "media-only"))
    g_object_get (st->signaller.get (), "media-only", &media_only, nullptr);
  if (media_only && (navigation || data)) {
    GST_INFO_OBJECT (self, "the signaller's endpoint takes no data channels: not offering any");
    navigation = data = false;
  }
  if (navigation)
    st->channels->create (session_id, webrtc, kInputChannelLabel);
  if (data)
    st->channels->create (session_id, webrtc, kDataChannelLabel);
  st->adopt_remote_channels (session_id, webrtc);
}

// Worker thread.
void
start_consumer (RtcstreamSink *self, const std::string &session_id, const std::string &peer_id)
{
  State *st = self->state;
  if (!st->started || st->consumers.count (session_id))
    return;
  CommonSettings settings;
  bool caps_missing = false;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    settings = st->settings;
    for (auto &in : st->inputs)
      caps_missing |= in->caps == nullptr && !in->eos;
  }
  if (st->inputs.empty () || caps_missing) {
    GST_INFO_OBJECT (self, "session %s waits until every input has caps", session_id.c_str ());
    st->pending.emplace_back (session_id, peer_id);
    return;
  }

  auto c = std::make_shared<Consumer> ();
  c->session = std::make_shared<WebrtcSession> (session_id, peer_id, st->worker,
      st->signaller.get (), GST_BIN (self));
  Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
  std::string error = c->session->create (ice_config (settings), 0,
      [ref, session_id] (GstWebRTCPeerConnectionState s) {
        on_consumer_state (ref.get (), session_id, s);
      });
  if (!error.empty ()) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", error.c_str ()), (nullptr));
    return;
  }
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->consumers[session_id] = c;
  }
  for (auto &in : st->inputs) {
    GstCaps *caps;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      caps = in->caps ? gst_caps_ref (in->caps) : nullptr;
    }
    std::vector<const Codec *> codecs = candidate_codecs (settings, *in, caps);
    if (caps)
      gst_caps_unref (caps);
    if (codecs.empty ()) {
      error = "no codec can be sent for " + in->name + ": none of " +
          codec_list_to_string (in->kind == MediaKind::Video ? settings.video_codecs
                                                             : settings.audio_codecs) +
          " has its encoder and payloader installed";
      break;
    }
    GstCaps *offer_caps = gst_caps_new_empty ();
    for (const Codec *codec : codecs)
      gst_caps_append (offer_caps, rtp_caps (*codec, codec->default_pt, true));
    const guint ssrc = g_random_int ();
    for (guint k = 0; k < gst_caps_get_size (offer_caps); k++)
      gst_structure_set (gst_caps_get_structure (offer_caps, k), "ssrc", G_TYPE_UINT, ssrc,
          nullptr);
    c->ssrcs.push_back (ssrc);
    GstPad *pad = gst_element_request_pad_simple (c->session->webrtcbin (), "sink_%u");
    GstWebRTCRTPTransceiver *trans = nullptr;
    g_object_get (pad, "transceiver", &trans, nullptr);
    if (trans) {
      g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
          "codec-preferences", offer_caps, nullptr);
      if (in->kind == MediaKind::Video)
        g_object_set (trans, "do-nack", TRUE, nullptr);
      gst_object_unref (trans);
    }
    gst_caps_unref (offer_caps);
    c->pads.emplace_back (in.get (), pad);
    c->offered.push_back (codec_list_to_string (codecs));
  }
  if (!error.empty ()) {
    warn_consumer (self, peer_id, error);
    remove_consumer (self, session_id, true);
    return;
  }
  c->session->sync_state ();
  open_channels (self, session_id, c->session->webrtcbin ());
  GST_INFO_OBJECT (self, "offering to consumer %s (session %s)", peer_id.c_str (),
      session_id.c_str ());
  c->session->offer ([ref, session_id, peer_id] (const std::string &err) {
    if (!err.empty ()) {
      warn_consumer (ref.get (), peer_id, err);
      remove_consumer (ref.get (), session_id, true);
    }
  });
  c->announced = true;
  g_signal_emit (self, sink_signals[SIGNAL_CONSUMER_ADDED], 0, peer_id.c_str (),
      c->session->webrtcbin ());
}

void
process_pending (RtcstreamSink *self)
{
  State *st = self->state;
  auto pending = std::move (st->pending);
  st->pending.clear ();
  for (auto &p : pending)
    start_consumer (self, p.first, p.second);
}

// --- signaller callbacks (signaller thread) ----------------------------------

void
on_session_requested (RtcstreamSignaller *, const gchar *sid, const gchar *peer,
    GstWebRTCSessionDescription *offer, gpointer user)
{
  auto *self = self_from (user);
  if (offer) {
    GST_WARNING_OBJECT (self, "consumer %s sent its own offer; we only offer ourselves, "
        "ignoring it", peer);
  }
  std::string s = sid, p = peer;
  on_worker (self, [s, p] (RtcstreamSink *self) { start_consumer (self, s, p); });
}

void
on_session_description (RtcstreamSignaller *, const gchar *sid,
    GstWebRTCSessionDescription *desc, gpointer user)
{
  auto *self = self_from (user);
  if (desc->type != GST_WEBRTC_SDP_TYPE_ANSWER) {
    GST_WARNING_OBJECT (self, "session %s: expected an answer, ignoring", sid);
    return;
  }
  std::string s = sid;
  GstWebRTCSessionDescription *copy = gst_webrtc_session_description_copy (desc);
  std::shared_ptr<GstWebRTCSessionDescription> holder (copy, gst_webrtc_session_description_free);
  on_worker (self, [s, holder] (RtcstreamSink *self) {
    auto it = self->state->consumers.find (s);
    if (it == self->state->consumers.end ())
      return;
    Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
    std::string peer = it->second->session->peer_id ();
    it->second->session->set_remote (holder.get (), [ref, s, peer] (const std::string &err) {
      if (!err.empty ()) {
        warn_consumer (ref.get (), peer, err);
        remove_consumer (ref.get (), s, true);
        return;
      }
      link_consumer (ref.get (), s);
    });
  });
}

void
on_handle_ice (RtcstreamSignaller *, const gchar *sid, guint mline, const gchar *cand,
    gpointer user)
{
  std::string s = sid, c = cand;
  on_worker (self_from (user), [s, c, mline] (RtcstreamSink *self) {
    auto it = self->state->consumers.find (s);
    if (it != self->state->consumers.end ())
      it->second->session->add_ice (mline, c);
  });
}

void
on_session_ended (RtcstreamSignaller *, const gchar *sid, gpointer user)
{
  std::string s = sid;
  on_worker (self_from (user), [s] (RtcstreamSink *self) {
    auto &pending = self->state->pending;
    pending.erase (std::remove_if (pending.begin (), pending.end (),
        [&s] (const auto &p) { return p.first == s; }), pending.end ());
    remove_consumer (self, s, false);
  });
}

void
on_signaller_error (RtcstreamSignaller *, GError *err, gpointer user)
{
  auto *self = self_from (user);
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE, ("%s", err->message),
      ("signaller error domain %s code %d", g_quark_to_string (err->domain), err->code));
}

void
on_registered (RtcstreamSignaller *, gpointer user)
{
  auto *self = self_from (user);
  std::string name;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    name = self->state->settings.stream_name;
  }
  GST_INFO_OBJECT (self, "stream '%s' is published", name.c_str ());
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("rtcstream-registered", "stream-name", G_TYPE_STRING,
              name.c_str (), nullptr)));
}

// --- stats ---------------------------------------------------------------------

GstStructure *
build_stats (RtcstreamSink *self)
{
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  guint encoders = 0;
  for (auto &g : st->groups)
    encoders += g->encodes ? 1 : 0;
  GstStructure *s = gst_structure_new ("application/x-rtcstreamsink-stats",
      "consumers", G_TYPE_UINT, (guint) st->consumers.size (),
      "encoders", G_TYPE_UINT, encoders,
      "encoder-groups", G_TYPE_UINT, (guint) st->groups.size (), nullptr);
  for (auto &kv : st->consumers) {
    SessionStats ss = kv.second->session->stats ();
    GstStructure *cs = gst_structure_new ("consumer-stats",
        "peer-id", G_TYPE_STRING, kv.second->session->peer_id ().c_str (),
        "state", G_TYPE_STRING, ss.state.c_str (),
        "codecs", G_TYPE_STRING, ss.codecs.c_str (),
        "bytes-sent", G_TYPE_UINT64, ss.bytes_sent,
        "rtt-ms", G_TYPE_DOUBLE, ss.rtt_ms,
        "local-candidate-type", G_TYPE_STRING, ss.local_candidate_type.c_str (),
        "remote-candidate-type", G_TYPE_STRING, ss.remote_candidate_type.c_str (), nullptr);
    std::string field = "consumer-" + kv.first;
    gst_structure_set (s, field.c_str (), GST_TYPE_STRUCTURE, cs, nullptr);
    gst_structure_free (cs);
  }
  return s;
}

// --- data channels (worker thread) ---------------------------------------------------

std::string
peer_of (RtcstreamSink *self, const std::string &session_id)
{
  auto it = self->state->consumers.find (session_id);
  return it == self->state->consumers.end () ? std::string () : it->second->session->peer_id ();
}

// A navigation message from a consumer goes upstream from the first video
// input, its coordinates scaled to that input's frame size.
void
on_navigation_message (RtcstreamSink *self, const std::string &session_id,
    const std::string &text)
{
  State *st = self->state;
  InputStream *video = nullptr;
  int width = 0, height = 0;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (!st->navigation)
      return;
    for (auto &in : st->inputs) {
      if (in->kind == MediaKind::Video && !video) {
        video = in.get ();
        if (in->caps && gst_caps_get_size (in->caps) > 0) {
          GstStructure *cs = gst_caps_get_structure (in->caps, 0);
          gst_structure_get_int (cs, "width", &width);
          gst_structure_get_int (cs, "height", &height);
        }
      }
    }
  }
  if (!video)
    return;
  std::string error;
  GstEvent *event = navigation_from_json (text, width, height, error);
  if (!event) {
    GST_DEBUG_OBJECT (self, "consumer %s: ignoring a navigation message: %s",
        peer_of (self, session_id).c_str (), error.c_str ());
    return;
  }
  GST_LOG_OBJECT (self, "navigation from %s: %" GST_PTR_FORMAT,
      peer_of (self, session_id).c_str (), gst_event_get_structure (event));
  gst_pad_push_event (video->ghost, event);
}

DataChannels::Handlers
channel_handlers (RtcstreamSink *self)
{
  DataChannels::Handlers h = message_signal_handlers (GST_ELEMENT (self),
      &sink_signals[SIGNAL_DATA_CHANNEL_OPENED],
      [self] (const std::string &session) { return peer_of (self, session); });
  h.input = [self] (const std::string &session, const std::string &text) {
    on_navigation_message (self, session, text);
  };
  return h;
}

// Any thread: the session of a consumer, "" for every consumer when peer is
// null or empty; false when no consumer has that id.
bool
session_of_peer (RtcstreamSink *self, const gchar *peer, std::string &session)
{
  session.clear ();
  if (!peer || !*peer)
    return true;
  std::lock_guard<std::mutex> lk (self->state->lock);
  for (auto &kv : self->state->consumers) {
    if (kv.second->session->peer_id () == peer) {
      session = kv.first;
      return true;
    }
  }
  return false;
}

guint
send_text_action (RtcstreamSink *self, const gchar *peer, const gchar *text)
{
  std::string session;
  if (!text || !session_of_peer (self, peer, session))
    return 0;
  return self->state->channels->send_text (session, text);
}

guint
send_binary_action (RtcstreamSink *self, const gchar *peer, GBytes *bytes)
{
  std::string session;
  if (!bytes || !session_of_peer (self, peer, session))
    return 0;
  return self->state->channels->send_binary (session, bytes);
}

// --- input pads -----------------------------------------------------------------

GstPadProbeReturn
on_input_event (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  auto *self = self_from (user);
  State *st = self->state;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (ev, &caps);
    GST_DEBUG_OBJECT (self, "%s caps %" GST_PTR_FORMAT, GST_PAD_NAME (pad), caps);
    bool first = false;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      for (auto &in : st->inputs) {
        if (in->ghost == pad) {
          first = in->caps == nullptr;
          gst_caps_replace (&in->caps, caps);
        }
      }
    }
    if (first)
      on_worker (self, [] (RtcstreamSink *self) { process_pending (self); });
  } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
    bool all = true;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      for (auto &in : st->inputs) {
        if (in->ghost == pad)
          in->eos = true;
        all &= in->eos;
      }
    }
    if (all) {
      // Every input ended: end the sessions (consumers get EOS), then EOS.
      on_worker (self, [] (RtcstreamSink *self) {
        State *st = self->state;
        std::vector<std::string> ids;
        for (auto &kv : st->consumers)
          ids.push_back (kv.first);
        for (auto &id : ids)
          remove_consumer (self, id, true);
        if (!st->eos_posted) {
          st->eos_posted = true;
          GST_INFO_OBJECT (self, "all inputs ended, posting EOS");
          gst_element_post_message (GST_ELEMENT (self), gst_message_new_eos (GST_OBJECT (self)));
        }
      });
    }
  }
  return GST_PAD_PROBE_OK;
}

}  // namespace

static GstPad *
rtcstream_sink_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *)
{
  auto *self = RTCSTREAM_SINK (element);
  State *st = self->state;
  bool video = g_str_has_prefix (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "video");
  std::string pad_name;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (st->started) {
      GST_ELEMENT_WARNING (self, CORE, PAD, ("Pads must be requested before the element starts"),
          (nullptr));
      return nullptr;
    }
    guint &counter = video ? st->video_pads : st->audio_pads;
    if (name && *name) {
      pad_name = name;
      guint n = 0;
      if (sscanf (name, video ? "video_%u" : "audio_%u", &n) == 1)
        counter = std::max (counter, n + 1);
    } else {
      pad_name = std::string (video ? "video_" : "audio_") + std::to_string (counter++);
    }
    for (auto &in : st->inputs)
      if (in->name == pad_name)
        return nullptr;
  }
  auto in = std::make_unique<InputStream> ();
  in->name = pad_name;
  in->kind = video ? MediaKind::Video : MediaKind::Audio;
  in->tee = make_element ("tee", pad_name + "-tee");
  g_object_set (in->tee, "allow-not-linked", TRUE, nullptr);
  // A fakesink per input keeps the bin a sink: it prerolls nothing (async=false)
  // and makes EOS handling ours rather than webrtcbin's.
  // Until a viewer's encoder is linked the fakesink is the only consumer of
  // the input: this filter makes upstream pick what encoders take (I420,
  // 48 kHz) rather than the first format it knows, so that the first viewer
  // causes no renegotiation and an idle producer converts nothing.
  in->prefer = make_element ("capsfilter", pad_name + "-prefer");
  GstCaps *prefer = gst_caps_from_string (video
      ? "video/x-raw, format=(string)I420; video/x-raw; video/x-raw(ANY); video/x-vp8; "
        "video/x-vp9; video/x-h264"
      : "audio/x-raw, format=(string)S16LE, rate=(int)48000; audio/x-raw; audio/x-opus");
  g_object_set (in->prefer, "caps", prefer, nullptr);
  gst_caps_unref (prefer);
  in->fakesink = make_element ("fakesink", pad_name + "-sink");
  g_object_set (in->fakesink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  // Held by the InputStream too: release_pad may run after the bin dropped them.
  gst_object_ref_sink (in->tee);
  gst_object_ref_sink (in->prefer);
  gst_object_ref_sink (in->fakesink);
  gst_bin_add_many (GST_BIN (self), in->tee, in->prefer, in->fakesink, nullptr);
  gst_element_link_many (in->tee, in->prefer, in->fakesink, nullptr);
  gst_element_sync_state_with_parent (in->fakesink);
  gst_element_sync_state_with_parent (in->prefer);
  gst_element_sync_state_with_parent (in->tee);
  GstPad *tee_sink = gst_element_get_static_pad (in->tee, "sink");
  in->ghost = gst_ghost_pad_new_from_template (pad_name.c_str (), tee_sink, templ);
  gst_object_unref (tee_sink);
  gst_pad_add_probe (in->ghost, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_input_event, self, nullptr);
  gst_pad_set_active (in->ghost, TRUE);
  GstPad *ghost = in->ghost;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->inputs.push_back (std::move (in));
  }
  gst_element_add_pad (element, ghost);
  GST_DEBUG_OBJECT (self, "new input pad %s", pad_name.c_str ());
  return ghost;
}

static void
rtcstream_sink_release_pad (GstElement *element, GstPad *pad)
{
  auto *self = RTCSTREAM_SINK (element);
  State *st = self->state;
  std::unique_ptr<InputStream> in;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto it = st->inputs.begin (); it != st->inputs.end (); ++it) {
      if ((*it)->ghost == pad) {
        in = std::move (*it);
        st->inputs.erase (it);
        break;
      }
    }
  }
  if (!in)
    return;
  gst_element_remove_pad (element, pad);
  // During the bin's dispose the children are gone already: only remove
  // what is still ours.
  for (GstElement *e : {in->tee, in->prefer, in->fakesink}) {
    if (GST_OBJECT_PARENT (e) == GST_OBJECT (self))
      remove_elements (GST_BIN (self), {e});
    gst_object_unref (e);
  }
  gst_caps_replace (&in->caps, nullptr);
}

namespace {

bool
start (RtcstreamSink *self)
{
  State *st = self->state;
  std::string error;
  RtcstreamSignaller *sig;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (st->inputs.empty ()) {
      error = "No input: link something to a video_%u or audio_%u pad of rtcstreamsink";
      sig = nullptr;
    } else {
      sig = ensure_signaller (st->settings, RTCSTREAM_ROLE_PRODUCER, error);
    }
  }
  if (!sig) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return false;
  }
  auto on_start = [st] { st->eos_posted = false; };
  auto refresh_stats = [st] {
    for (auto &kv : st->consumers)
      kv.second->session->refresh_stats ();
  };
  st->start (GST_ELEMENT (self), sig, on_start, refresh_stats, {
    {"session-requested", G_CALLBACK (on_session_requested)},
    {"session-description", G_CALLBACK (on_session_description)},
    {"handle-ice", G_CALLBACK (on_handle_ice)},
    {"session-ended", G_CALLBACK (on_session_ended)},
    {"error", G_CALLBACK (on_signaller_error)},
    {"registered", G_CALLBACK (on_registered)},
  });
  return true;
}

void
stop (RtcstreamSink *self)
{
  State *st = self->state;
  st->stop ([self, st] {
    std::vector<std::string> ids;
    for (auto &kv : st->consumers)
      ids.push_back (kv.first);
    for (auto &id : ids)
      remove_consumer (self, id, false);
    st->pending.clear ();
  });
}

}  // namespace

static GstStateChangeReturn
rtcstream_sink_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = RTCSTREAM_SINK (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    if (!start (self))
      return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (rtcstream_sink_parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop (self);
  return ret;
}

static void
rtcstream_sink_handle_message (GstBin *bin, GstMessage *msg)
{
  // EOS is ours to post, once every input has ended; the children's EOS
  // (fakesinks, webrtcbin's transports) would otherwise never all arrive.
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS && GST_MESSAGE_SRC (msg) != GST_OBJECT (bin)) {
    gst_message_unref (msg);
    return;
  }
  // An error inside one consumer's webrtcbin (say sctpenc when a browser
  // tab closes and aborts the SCTP association) is that consumer's end, not
  // the pipeline's: warn and remove it; the others carry on.
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    std::string session = session_of_message (bin, msg);
    if (!session.empty ()) {
      GError *err = nullptr;
      gst_message_parse_error (msg, &err, nullptr);
      std::string what = err ? err->message : "unknown error";
      g_clear_error (&err);
      gst_message_unref (msg);
      on_worker (RTCSTREAM_SINK (bin), [session, what] (RtcstreamSink *self) {
        std::string peer = peer_of (self, session);
        if (peer.empty ())
          return;  // already removed
        warn_consumer (self, peer, "its connection broke (" + what + "); removed");
        remove_consumer (self, session, true);
      });
      return;
    }
  }
  GST_BIN_CLASS (rtcstream_sink_parent_class)->handle_message (bin, msg);
}

static void
rtcstream_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_SINK (object);
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (prop_id == PROP_NAVIGATION) {
    self->state->navigation = g_value_get_boolean (value);
    return;
  }
  if (prop_id == PROP_DATA_CHANNEL) {
    self->state->data_channel = g_value_get_boolean (value);
    return;
  }
  if (!set_common_property (GST_ELEMENT (self), self->state->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
rtcstream_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto *self = RTCSTREAM_SINK (object);
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (prop_id == PROP_NAVIGATION) {
    g_value_set_boolean (value, self->state->navigation);
    return;
  }
  if (prop_id == PROP_DATA_CHANNEL) {
    g_value_set_boolean (value, self->state->data_channel);
    return;
  }
  if (!get_common_property (self->state->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
rtcstream_sink_init (RtcstreamSink *self)
{
  self->state = new State ();
  self->state->init ("rtcstreamsink", channel_handlers (self));
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}

static void
rtcstream_sink_finalize (GObject *object)
{
  auto *self = RTCSTREAM_SINK (object);
  State *st = self->state;
  st->finalize ();
  for (auto &in : st->inputs) {
    gst_caps_replace (&in->caps, nullptr);
    gst_object_unref (in->tee);
    gst_object_unref (in->prefer);
    gst_object_unref (in->fakesink);
  }
  delete st;
  G_OBJECT_CLASS (rtcstream_sink_parent_class)->finalize (object);
}

static void
rtcstream_sink_class_init (RtcstreamSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBinClass *bin_class = GST_BIN_CLASS (klass);

  gobject_class->set_property = rtcstream_sink_set_property;
  gobject_class->get_property = rtcstream_sink_get_property;
  gobject_class->finalize = rtcstream_sink_finalize;
  element_class->request_new_pad = rtcstream_sink_request_new_pad;
  element_class->release_pad = rtcstream_sink_release_pad;
  element_class->change_state = rtcstream_sink_change_state;
  bin_class->handle_message = rtcstream_sink_handle_message;

  install_common_properties (gobject_class, "publish");
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "consumers (uint), encoders (uint: encoders running; consumers agreeing on a "
          "codec share one), and per consumer a consumer-SESSION structure with peer-id, "
          "state, codecs, bytes-sent and rtt-ms (-1 until known)",
          GST_TYPE_STRUCTURE, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_NAVIGATION,
      g_param_spec_boolean ("navigation", "Navigation",
          "Open an \"input\" data channel per consumer and send the mouse and keyboard "
          "events viewers send on it (a browser's video element, rtcstreamsrc's downstream) "
          "upstream from the first video pad as GstNavigation events, coordinates scaled "
          "to the input's frame size, e.g. into navigationtest or an application",
          TRUE, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                               GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_DATA_CHANNEL,
      g_param_spec_boolean ("data-channel", "Data channel",
          "Open a \"data\" channel per consumer for application messages: send with the "
          "send-text / send-binary action signals, receive with text-message / "
          "binary-message. Channels a consumer opens itself are always accepted",
          FALSE, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                GST_PARAM_MUTABLE_READY)));

  /**
   * RtcstreamSink::consumer-added:
   * @peer_id: the consumer's id on the signalling server
   * @webrtcbin: the webrtcbin serving it
   */
  sink_signals[SIGNAL_CONSUMER_ADDED] = g_signal_new ("consumer-added",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);
  sink_signals[SIGNAL_CONSUMER_REMOVED] = g_signal_new ("consumer-removed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);

  // data-channel-opened, text-message, binary-message: see props.h.
  install_message_signals (gobject_class, &sink_signals[SIGNAL_DATA_CHANNEL_OPENED]);
  /**
   * RtcstreamSink::send-text:
   * @peer_id: (nullable): one consumer, or NULL for every consumer
   * @text: the message
   *
   * Action signal: sends a text message on the "data" channel. Callable from
   * any thread; never blocks. Returns how many consumers it was sent to
   * (0 before their channel is open: see data-channel-opened).
   */
  sink_signals[SIGNAL_SEND_TEXT] = g_signal_new_class_handler ("send-text",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (send_text_action), nullptr, nullptr, nullptr,
      G_TYPE_UINT, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * RtcstreamSink::send-binary:
   * @peer_id: (nullable): one consumer, or NULL for every consumer
   * @data: the message
   *
   * Action signal: as send-text, for binary messages.
   */
  sink_signals[SIGNAL_SEND_BINARY] = g_signal_new_class_handler ("send-binary",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (send_binary_action), nullptr, nullptr, nullptr,
      G_TYPE_UINT, 2, G_TYPE_STRING, G_TYPE_BYTES);

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class, "rtcstream WebRTC sink",
      "Sink/Network/WebRTC",
      "Publishes audio and video over WebRTC to every consumer that asks, "
      "encoding once per codec",
      "rtcstream developers");
}
