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

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sink-private.h"

GST_DEBUG_CATEGORY (rtcstream_sink_debug);

using namespace rtcstream;
using namespace rtcstream::sink;

guint rtcstream::sink::consumer_signals[N_CONSUMER_SIGNALS];
guint rtcstream::sink::message_signals[N_MESSAGE_SIGNALS];

namespace {

enum {
  PROP_STATS = PROP_COMMON_LAST,
  PROP_NAVIGATION,
  PROP_DATA_CHANNEL,
  PROP_CONGESTION_CONTROL,
  PROP_BANDWIDTH_PROBING,
  PROP_MIN_BITRATE,
  PROP_START_BITRATE,
  PROP_MAX_BITRATE,
  PROP_PLAYOUT_DELAY_MIN,
  PROP_PLAYOUT_DELAY_MAX,
  PROP_VIDEO_LADDER,
  PROP_DATA_ORDERED,
  PROP_DATA_MAX_RETRANSMITS,
  PROP_DATA_MAX_PACKET_LIFETIME,
  PROP_DATA_STALL_TIMEOUT,
  PROP_PREPARE_ENCODER,
};

// How long after the last input's EOS the sessions end: time for the EOS to
// reach each consumer's webrtcbin and its RTCP BYE to go out.
constexpr guint kByeGraceMs = 300;

}  // namespace

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
// Data pads take any caps (their query says so). The template names one
// type only, and comes first: gst_element_link (gst-launch-1.0's "!") picks
// the first template whose caps meet the upstream's, so an upstream without
// caps (filesrc, fdsrc) gets a data pad, and audio and video still get
// theirs. Data with caps of its own links by name (s.data_0).
static GstStaticPadTemplate data_template = GST_STATIC_PAD_TEMPLATE ("data_%u",
    GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS ("application/octet-stream"));

namespace {

RtcstreamSink *
self_from (gpointer p)
{
  return RTCSTREAM_SINK (p);
}

// --- signaller callbacks (signaller thread) ----------------------------------

void
on_session_requested (RtcstreamSignaller *, const gchar *sid, const gchar *peer,
    GstWebRTCSessionDescription *offer, gpointer user)
{
  SessionRequest request{ sid, peer, nullptr };
  if (offer)
    request.offer.reset (gst_webrtc_session_description_copy (offer),
        gst_webrtc_session_description_free);
  on_worker (self_from (user), [request] (RtcstreamSink *self) {
    start_consumer (self, request);
  });
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
        [&s] (const SessionRequest &r) { return r.id == s; }), pending.end ());
    remove_consumer (self, s, false);
  });
}

void
on_signaller_error (RtcstreamSignaller *, GError *err, gpointer user)
{
  auto *self = self_from (user);
  self->state->post_error (GST_ELEMENT (self), GST_RESOURCE_ERROR_OPEN_READ_WRITE, err);
}

void
on_registered (RtcstreamSignaller *sig, gpointer user)
{
  auto *self = self_from (user);
  std::string name;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    name = self->state->settings.stream_name;
  }
  if (name.empty ()) {
    // An application's signaller: the name is its "stream-name".
    g_autofree gchar *own = nullptr;
    g_object_get (sig, "stream-name", &own, nullptr);
    name = own ? own : "";
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
  guint encoders = 0, groups = 0, prepared = 0;
  for (auto &g : st->groups) {
    // A prepared encoder that no consumer took encodes nothing.
    if (g->spare_probe) {
      prepared++;
      continue;
    }
    groups++;
    encoders += g->encodes ? 1 : 0;
  }
  GstStructure *s = gst_structure_new ("application/x-rtcstreamsink-stats",
      "consumers", G_TYPE_UINT, (guint) st->consumers.size (),
      "encoders", G_TYPE_UINT, encoders,
      "encoder-groups", G_TYPE_UINT, groups,
      "prepared-encoders", G_TYPE_UINT, prepared, nullptr);
  for (auto &kv : st->consumers) {
    SessionStats ss = kv.second->session->stats ();
    GstStructure *cs = gst_structure_new ("consumer-stats",
        "peer-id", G_TYPE_STRING, kv.second->session->peer_id ().c_str (),
        "state", G_TYPE_STRING, ss.state.c_str (),
        "codecs", G_TYPE_STRING, ss.codecs.c_str (),
        "bytes-sent", G_TYPE_UINT64, ss.bytes_sent,
        "rtt-ms", G_TYPE_DOUBLE, ss.rtt_ms,
        "local-candidate-type", G_TYPE_STRING, ss.local_candidate_type.c_str (),
        "remote-candidate-type", G_TYPE_STRING, ss.remote_candidate_type.c_str (),
        "candidate-protocol", G_TYPE_STRING, ss.candidate_protocol.c_str (), nullptr);
    gst_structure_set (cs, "playout-delay", G_TYPE_STRING,
        kv.second->playout_delay_sent.c_str (), nullptr);
    add_congestion_stats (cs, *kv.second);
    add_rendition_stats (cs, *kv.second);
    add_data_stats (self, cs, kv.first);
    std::string field = "consumer-" + kv.first;
    gst_structure_set (s, field.c_str (), GST_TYPE_STRUCTURE, cs, nullptr);
    gst_structure_free (cs);
  }
  return s;
}

// --- input pads -----------------------------------------------------------------

GstPadProbeReturn
on_input_event (GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
  auto *self = self_from (user);
  State *st = self->state;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (is_codec_known_event (ev)) {
    // Upstream now answers caps queries with its codec: consumers waiting
    // for this input's caps can start (sink-consumers.cpp).
    GST_DEBUG_OBJECT (self, "%s: upstream knows its codec", GST_PAD_NAME (pad));
    on_worker (self, [] (RtcstreamSink *self) { process_pending (self); });
    return GST_PAD_PROBE_DROP;
  }
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
          in->recent->set_encoded (in->kind == MediaKind::Video &&
              codec_for_encoded_caps (caps) != nullptr);
        }
      }
    }
    if (first)
      on_worker (self, [] (RtcstreamSink *self) { process_pending (self); });
  } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
    {
      std::lock_guard<std::mutex> lk (st->lock);
      for (auto &in : st->inputs)
        if (in->ghost == pad)
          in->eos = true;
    }
    input_ended (self);
  }
  return GST_PAD_PROBE_OK;
}

// Streaming thread: a video input's frame. It gets its capture time, unless
// it came with one (a relay's): when it was captured, on the wall clock,
// from its running time and the pipeline's clock, which the abs-capture-time
// RTP header extension sends with it. Then it is kept for replays.
GstPadProbeReturn
on_video_input (GstPad *pad, GstPadProbeInfo *info, gpointer recent)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (!GST_CLOCK_TIME_IS_VALID (buffer_capture_time (buf))) {
    GstClockTime captured = ntp_now ();
    GstElement *element = GST_ELEMENT (gst_pad_get_parent (pad));
    GstEvent *seg_ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
    if (element && seg_ev && GST_BUFFER_PTS_IS_VALID (buf)) {
      const GstSegment *seg;
      gst_event_parse_segment (seg_ev, &seg);
      GstClockTime running = gst_segment_to_running_time (seg, GST_FORMAT_TIME,
          GST_BUFFER_PTS (buf));
      GstClock *clock = gst_element_get_clock (element);
      if (clock && GST_CLOCK_TIME_IS_VALID (running)) {
        const GstClockTime at = gst_element_get_base_time (element) + running;
        const GstClockTime now = gst_clock_get_time (clock);
        // How long ago it was captured (a live source's PTS is its capture).
        if (now >= at)
          captured -= std::min (now - at, captured);
        else
          captured += at - now;
      }
      if (clock)
        gst_object_unref (clock);
    }
    if (seg_ev)
      gst_event_unref (seg_ev);
    if (element)
      gst_object_unref (element);
    buf = gst_buffer_make_writable (buf);
    set_buffer_capture_time (buf, captured);
    GST_PAD_PROBE_INFO_DATA (info) = buf;
  }
  (*static_cast<std::shared_ptr<RecentFrames> *> (recent))->add (buf);
  return GST_PAD_PROBE_OK;
}

}  // namespace

void
rtcstream::sink::input_ended (RtcstreamSink *self)
{
  State *st = self->state;
  bool all = true;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto &in : st->inputs)
      all &= in->eos;
    for (auto &in : st->data_inputs)
      all &= in->eos;
  }
  if (!all)
    return;
  // Every input ended. The EOS goes on through the branches into each
  // consumer's webrtcbin, which sends an RTCP BYE (all a WHEP player
  // hears of the end); a moment later the sessions end (consumers get
  // EOS), then EOS. (Data pads end once their consumers acknowledged
  // everything.)
  Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
  st->worker->post_delayed (kByeGraceMs, [ref] {
    RtcstreamSink *self = ref.get ();
    State *st = self->state;
    if (!st->started)
      return;
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

static GstPad *
rtcstream_sink_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *name, const GstCaps *)
{
  auto *self = RTCSTREAM_SINK (element);
  State *st = self->state;
  bool video = g_str_has_prefix (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "video");
  bool data = g_str_has_prefix (GST_PAD_TEMPLATE_NAME_TEMPLATE (templ), "data");
  std::string pad_name;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (st->started) {
      GST_ELEMENT_WARNING (self, CORE, PAD, ("Pads must be requested before the element starts"),
          (nullptr));
      return nullptr;
    }
  }
  if (data)
    return request_data_pad (self, templ, name);
  {
    std::lock_guard<std::mutex> lk (st->lock);
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
  if (video)
    gst_pad_add_probe (in->ghost, GST_PAD_PROBE_TYPE_BUFFER, on_video_input,
        new std::shared_ptr<RecentFrames> (in->recent),
        [] (gpointer recent) { delete static_cast<std::shared_ptr<RecentFrames> *> (recent); });
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
  if (release_data_pad (self, pad))
    return;
  // Consumers' branches and encoder groups point at the input and are the
  // worker's: while started, the worker takes the input out of them first,
  // and only then is it removed (also on the worker, so that its walks of
  // `inputs` never see it vanish).
  std::unique_ptr<InputStream> in;
  auto take = [st, pad, &in] (RtcstreamSink *self) {
    InputStream *found = nullptr;
    {
      std::lock_guard<std::mutex> lk (st->lock);
      for (auto &i : st->inputs)
        if (i->ghost == pad)
          found = i.get ();
    }
    if (!found)
      return;
    if (st->started)
      drop_input_from_consumers (self, found);
    std::lock_guard<std::mutex> lk (st->lock);
    for (auto it = st->inputs.begin (); it != st->inputs.end (); ++it) {
      if (it->get () == found) {
        in = std::move (*it);
        st->inputs.erase (it);
        break;
      }
    }
  };
  if (st->worker)
    st->worker->run_sync ([self, &take] { take (self); });
  else
    take (self);
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
  Ref<RtcstreamSignaller> sig;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (st->inputs.empty () && st->data_inputs.empty ())
      error = "No input: link something to a video_%u, audio_%u or data_%u pad of "
              "rtcstreamsink";
    else
      sig = signaller_for_start (st->settings, RTCSTREAM_ROLE_PRODUCER, error);
  }
  if (!sig) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return false;
  }
  auto on_start = [st] {
    st->eos_posted = false;
    st->stopping = false;
  };
  auto refresh_stats = [self, st] {
    update_congestion (self);
    for (auto &kv : st->consumers)
      kv.second->session->refresh_stats ();
  };
  st->start (GST_ELEMENT (self), std::move (sig), on_start, refresh_stats, {
    {"session-requested", G_CALLBACK (on_session_requested)},
    {"session-description", G_CALLBACK (on_session_description)},
    {"handle-ice", G_CALLBACK (on_handle_ice)},
    {"session-ended", G_CALLBACK (on_session_ended)},
    {"error", G_CALLBACK (on_signaller_error)},
    {"warning", G_CALLBACK (on_signaller_warning)},
    {"registered", G_CALLBACK (on_registered)},
  });
  return true;
}

void
stop (RtcstreamSink *self)
{
  State *st = self->state;
  st->stop ([self, st] {
    st->stopping = true;
    std::vector<std::string> ids;
    for (auto &kv : st->consumers)
      ids.push_back (kv.first);
    for (auto &id : ids)
      remove_consumer (self, id, false);
    st->pending.clear ();
    drop_prepared_encoders (self, nullptr);
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
    set_data_flushing (self, false);
  } else if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    // Before the pads deactivate: a data pad waiting for room returns.
    set_data_flushing (self, true);
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
  if (prop_id == PROP_VIDEO_LADDER) {
    const char *spec = g_value_get_string (value);
    std::vector<LadderRung> rungs;
    std::string error;
    bool ok = parse_ladder (spec ? spec : "", &rungs, &error);
    if (!ok)
      error = std::string ("video-ladder \"") + (spec ? spec : "") + "\" is not a ladder: " +
          error;
    {
      std::lock_guard<std::mutex> lk (self->state->lock);
      // Kept to fail with at start (a warning posted while gst-launch
      // parses the line is never shown); a good ladder replaces a bad one.
      self->state->settings.ladder_error = error;
      if (ok) {
        self->state->ladder_spec = spec ? spec : "";
        self->state->ladder = rungs;
      }
    }
    if (!ok)  // (posted with no lock held)
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return;
  }
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (prop_id == PROP_NAVIGATION) {
    self->state->navigation = g_value_get_boolean (value);
    return;
  }
  if (prop_id == PROP_PREPARE_ENCODER) {
    self->state->prepare_encoder = g_value_get_boolean (value);
    return;
  }
  if (prop_id == PROP_DATA_CHANNEL) {
    self->state->data_channel = g_value_get_boolean (value);
    return;
  }
  DataSettings &d = self->state->data;
  switch (prop_id) {
    case PROP_DATA_ORDERED:
      d.ordered = g_value_get_boolean (value);
      return;
    case PROP_DATA_MAX_RETRANSMITS:
      d.max_retransmits = g_value_get_int (value);
      return;
    case PROP_DATA_MAX_PACKET_LIFETIME:
      d.max_packet_lifetime = g_value_get_int (value);
      return;
    case PROP_DATA_STALL_TIMEOUT:
      d.stall_timeout_ms = g_value_get_uint (value);
      return;
    default:
      break;
  }
  BitrateSettings &b = self->state->bitrates;
  switch (prop_id) {
    case PROP_CONGESTION_CONTROL:
      b.congestion_control = g_value_get_boolean (value);
      return;
    case PROP_BANDWIDTH_PROBING:
      b.probing = g_value_get_boolean (value);
      return;
    case PROP_MIN_BITRATE:
      b.min_bps = g_value_get_uint (value);
      return;
    case PROP_START_BITRATE:
      b.start_bps = g_value_get_uint (value);
      return;
    case PROP_MAX_BITRATE:
      b.max_bps = g_value_get_uint (value);
      return;
    case PROP_PLAYOUT_DELAY_MIN:
      self->state->playout_delay.min_ms = g_value_get_int (value);
      return;
    case PROP_PLAYOUT_DELAY_MAX:
      self->state->playout_delay.max_ms = g_value_get_int (value);
      return;
    default:
      break;
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
  if (prop_id == PROP_PREPARE_ENCODER) {
    g_value_set_boolean (value, self->state->prepare_encoder);
    return;
  }
  if (prop_id == PROP_NAVIGATION) {
    g_value_set_boolean (value, self->state->navigation);
    return;
  }
  if (prop_id == PROP_VIDEO_LADDER) {
    g_value_set_string (value, self->state->ladder_spec.c_str ());
    return;
  }
  if (prop_id == PROP_DATA_CHANNEL) {
    g_value_set_boolean (value, self->state->data_channel);
    return;
  }
  const DataSettings &d = self->state->data;
  switch (prop_id) {
    case PROP_DATA_ORDERED:
      g_value_set_boolean (value, d.ordered);
      return;
    case PROP_DATA_MAX_RETRANSMITS:
      g_value_set_int (value, d.max_retransmits);
      return;
    case PROP_DATA_MAX_PACKET_LIFETIME:
      g_value_set_int (value, d.max_packet_lifetime);
      return;
    case PROP_DATA_STALL_TIMEOUT:
      g_value_set_uint (value, d.stall_timeout_ms);
      return;
    default:
      break;
  }
  const BitrateSettings &b = self->state->bitrates;
  switch (prop_id) {
    case PROP_CONGESTION_CONTROL:
      g_value_set_boolean (value, b.congestion_control);
      return;
    case PROP_BANDWIDTH_PROBING:
      g_value_set_boolean (value, b.probing);
      return;
    case PROP_MIN_BITRATE:
      g_value_set_uint (value, b.min_bps);
      return;
    case PROP_START_BITRATE:
      g_value_set_uint (value, b.start_bps);
      return;
    case PROP_MAX_BITRATE:
      g_value_set_uint (value, b.max_bps);
      return;
    case PROP_PLAYOUT_DELAY_MIN:
      g_value_set_int (value, self->state->playout_delay.min_ms);
      return;
    case PROP_PLAYOUT_DELAY_MAX:
      g_value_set_int (value, self->state->playout_delay.max_ms);
      return;
    default:
      break;
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
  // A sink whatever its children: with data pads only, the last consumer's
  // webrtcbin leaving would clear the flag (GstBin keeps it from its sink
  // children), and the pipeline would wait for EOS from a non-sink forever.
  gst_bin_set_suppressed_flags (GST_BIN (self), GST_ELEMENT_FLAG_SINK);
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
          "codec and rendition share one), encoder-groups (uint: those and the groups "
          "passing encoded input through), prepared-encoders (uint: see prepare-encoder), and "
          "per consumer a consumer-SESSION structure with peer-id, "
          "state, codecs, bytes-sent, rtt-ms (-1 until known), local-candidate-type, "
          "remote-candidate-type, candidate-protocol (udp or tcp), bandwidth-estimate (bit/s "
          "its path carries, estimated from its feedback), bitrate-target (bit/s its video "
          "encoder is set to for it; 0 when it gets a rendition that several consumers may "
          "share, the input is encoded or congestion-control is off), bitrate-sent (bit/s over the last second), packet-loss "
          "(recent fraction lost, 0..1), feedback (transport-cc, receiver-reports or none), "
          "probes-sent and probes-found-more (uint64: upward probes, see bandwidth-probing, "
          "and those its link carried above the estimate), probe-bytes (uint64: their padding), "
          "last-probe-sent-bitrate and last-probe-received-bitrate (bit/s, 0 before the first "
          "probe that could be judged), last-probe-carried (boolean), "
          "congestion (normal, overuse: a queue builds, underuse: it drains), "
          "playout-delay (\"MIN,MAX\" ms asked of its video, empty when not negotiated), "
          "rendition (int: the rendition of video-ladder its video gets, 0 the full picture; "
          "-1 when its video is not encoded here), rendition-width and rendition-height "
          "(below the full picture), rendition-switches (uint), while its video encoder follows "
          "its estimate alone picture-width, picture-height and picture-framerate (double): "
          "the size and frame rate the encoder is given (smaller when the bitrate is too low), "
          "data-streams-open (uint: data pads whose channel to it is open) and data-bytes-sent "
          "(uint64)",
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
  const auto data_flags = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  g_object_class_install_property (gobject_class, PROP_DATA_ORDERED,
      g_param_spec_boolean ("data-ordered", "Data ordered",
          "Data pads (data_%u): deliver buffers in order. Off: each buffer as soon as it "
          "is whole, in any order",
          TRUE, data_flags));
  g_object_class_install_property (gobject_class, PROP_DATA_MAX_RETRANSMITS,
      g_param_spec_int ("data-max-retransmits", "Data max retransmits",
          "Data pads: -1 (the default) delivers every buffer (reliable: a pad waits while a "
          "consumer has a window of 8 MiB unacknowledged, see data-stall-timeout). N >= 0: "
          "partially reliable, each message is retransmitted at most N times and a pad "
          "never waits: a consumer whose channel already holds 64 KiB misses the buffer "
          "(telemetry that must be fresh rather than complete). Wins over "
          "data-max-packet-lifetime",
          -1, 65535, -1, data_flags));
  g_object_class_install_property (gobject_class, PROP_DATA_MAX_PACKET_LIFETIME,
      g_param_spec_int ("data-max-packet-lifetime", "Data max packet lifetime",
          "Data pads: -1 (the default): reliable. N >= 0: partially reliable, a message "
          "not delivered within N ms is given up (see data-max-retransmits)",
          -1, 65535, -1, data_flags));
  g_object_class_install_property (gobject_class, PROP_DATA_STALL_TIMEOUT,
      g_param_spec_uint ("data-stall-timeout", "Data stall timeout",
          "Reliable data pads wait for the slowest consumer; one that takes nothing for "
          "this many ms is removed (bus warning) so that the others go on. At EOS, how "
          "long to wait for the last acknowledgement. 0: wait forever",
          0, G_MAXINT, 10000, data_flags));

  g_object_class_install_property (gobject_class, PROP_CONGESTION_CONTROL,
      g_param_spec_boolean ("congestion-control", "Congestion control",
          "Estimate each consumer's bandwidth from its feedback (transport-wide congestion "
          "control where negotiated, else RTCP receiver reports) and set the video encoder "
          "that serves it alone to that estimate, between min-bitrate and max-bitrate. "
          "Raw video that several consumers watch is encoded in the renditions of "
          "video-ladder, each consumer getting the one its estimate allows. When this is "
          "off, every encoder runs at max-bitrate and every consumer gets the full picture",
          TRUE, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                               GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH_PROBING,
      g_param_spec_boolean ("bandwidth-probing", "Bandwidth probing",
          "With congestion-control, probe upward a consumer whose video sends less than its "
          "estimate (a picture stepped down, static content, pre-encoded video at a low rate): "
          "now and then, for ~0.1-0.3 s, copies of packets just sent (RTX, which the consumer "
          "drops as duplicates) at twice the estimate; when its link carries them the estimate "
          "rises to that rate, so that a link that got faster is found. Only below max-bitrate "
          "and while the link shows no congestion; at most every 4 s, every 12 s on a full link. "
          "Off by default: on a link that stays full they cost a few frames (docs/elements.md)",
          FALSE, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                               GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimum bitrate",
          "The least a video encoder is set to for a consumer's estimate, in bit/s",
          10000, G_MAXINT, 100000,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_START_BITRATE,
      g_param_spec_uint ("start-bitrate", "Start bitrate",
          "A new consumer's video bitrate before its feedback says more, in bit/s "
          "(within min-bitrate and max-bitrate)",
          10000, G_MAXINT, 1000000,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximum bitrate",
          "The most a video encoder is set to, in bit/s; also the bitrate of encoders that "
          "do not adapt (the full rendition when several consumers watch it, or "
          "congestion-control off)",
          10000, G_MAXINT, 2000000,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_VIDEO_LADDER,
      g_param_spec_string ("video-ladder", "Video ladder",
          "The renditions raw video is encoded in when several consumers watch it, for "
          "those whose links cannot take the full picture: DIVISOR[:BITRATE] entries, "
          "comma-separated, the first \"1\" (the full picture), each next one the input's "
          "width and height divided by a bigger DIVISOR (up to 16), encoded at BITRATE bit/s "
          "(default: max-bitrate divided by the square of DIVISOR); all within min-bitrate "
          "and max-bitrate, and none narrower than 160 pixels. Each rendition is encoded "
          "only while a consumer gets it; consumers on one rendition share its encoder. "
          "Empty: \"1,2,4\" (1280x720 with the default bitrates: 1280x720 at 2 Mbit/s, "
          "640x360 at 500 kbit/s, 320x180 at 125 kbit/s). \"1\": no ladder, one encoder "
          "per codec at max-bitrate for all. For renditions chosen from then on",
          "", (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                              GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_PREPARE_ENCODER,
      g_param_spec_boolean ("prepare-encoder", "Prepare encoder",
          "Have raw video's encoder for the first codec of video-codecs (the full picture) "
          "set up before a consumer needs it: once the input's caps are known, and again "
          "after its last consumer left. It gets the stream's caps but no pictures "
          "until a consumer takes it, so a joining consumer's first keyframe does "
          "not wait for the encoder's set-up (VP8 at 1280x720: 80-130 ms on a 2-core "
          "machine). Costs the encoder's memory (about 20 MB at 1280x720) while nobody "
          "watches, no CPU. stats count it in prepared-encoders, not in encoders",
          TRUE, (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                               GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_PLAYOUT_DELAY_MIN,
      g_param_spec_int ("playout-delay-min", "Minimum playout delay",
          "The least a viewer should delay rendering the video, in ms (10 ms steps), sent "
          "in the playout-delay RTP header extension to viewers that negotiate it "
          "(Chromium does). 0 with playout-delay-max 0: render each frame as soon as it "
          "is decoded (interactive); more lets the viewer smooth playout. -1 (in either): "
          "leave the extension out, the viewer chooses. Above playout-delay-max it is "
          "taken as playout-delay-max. For viewers that join later",
          -1, (gint) kPlayoutDelayMaxMs, 0,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_PLAYOUT_DELAY_MAX,
      g_param_spec_int ("playout-delay-max", "Maximum playout delay",
          "The most a viewer should delay rendering the video, in ms (10 ms steps); see "
          "playout-delay-min. -1: leave the extension out",
          -1, (gint) kPlayoutDelayMaxMs, 0,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         GST_PARAM_MUTABLE_PLAYING)));

  /**
   * RtcstreamSink::consumer-added:
   * @peer_id: the consumer's id on the signalling server
   * @webrtcbin: the webrtcbin serving it
   */
  consumer_signals[SIGNAL_CONSUMER_ADDED] = g_signal_new ("consumer-added",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);
  consumer_signals[SIGNAL_CONSUMER_REMOVED] = g_signal_new ("consumer-removed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
      G_TYPE_NONE, 2, G_TYPE_STRING, GST_TYPE_ELEMENT);

  // data-channel-opened, text-message, binary-message: see props.h.
  install_message_signals (gobject_class, message_signals);
  /**
   * RtcstreamSink::send-text:
   * @peer_id: (nullable): one consumer, or NULL for every consumer
   * @text: the message
   *
   * Action signal: sends a text message on the "data" channel. Callable from
   * any thread; never blocks. Returns how many consumers it was sent to
   * (0 before their channel is open: see data-channel-opened).
   */
  message_signals[SIGNAL_SEND_TEXT] = g_signal_new_class_handler ("send-text",
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
  message_signals[SIGNAL_SEND_BINARY] = g_signal_new_class_handler ("send-binary",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (send_binary_action), nullptr, nullptr, nullptr,
      G_TYPE_UINT, 2, G_TYPE_STRING, G_TYPE_BYTES);

  gst_element_class_add_static_pad_template (element_class, &data_template);
  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class, "rtcstream WebRTC sink",
      "Sink/Network/WebRTC",
      "Publishes audio and video over WebRTC to every consumer that asks, "
      "encoding once per codec",
      "rtcstream developers");
}
