// SPDX-License-Identifier: LGPL-2.1-or-later
#include "session.h"

#include "bandwidth.h"
#include "retransmission.h"
#include "send-pace.h"

#include "rtcstream/signallers/base-signaller.h"

#include <gst/sdp/sdp.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "ice-agent.h"
#include "sdp.h"
#include "turn.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

GST_DEBUG_CATEGORY_STATIC (rtcstream_session_debug);
#define GST_CAT_DEFAULT rtcstream_session_debug

namespace rtcstream {

namespace {

void
init_debug ()
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (rtcstream_session_debug, "rtcstream-session", 0,
        "rtcstream WebRTC session (one webrtcbin per remote peer)");
    g_once_init_leave (&once, 1);
  }
}

using Reply = std::function<void (WebrtcSession &, GstStructure *reply, const std::string &error)>;

struct PromiseCtx {
  std::weak_ptr<WebrtcSession> session;
  std::shared_ptr<Worker> worker;
  Reply fn;
};

// Extracts a readable error from a promise reply, or empty.
std::string
reply_error (GstPromise *promise, const GstStructure **reply_out)
{
  GstPromiseResult res = gst_promise_wait (promise);
  if (res != GST_PROMISE_RESULT_REPLIED)
    return res == GST_PROMISE_RESULT_EXPIRED ? "webrtcbin shut down" : "webrtcbin gave no reply";
  const GstStructure *reply = gst_promise_get_reply (promise);
  *reply_out = reply;
  if (reply && gst_structure_has_field (reply, "error")) {
    GError *err = nullptr;
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
    std::string msg = err ? err->message : "unknown webrtcbin error";
    g_clear_error (&err);
    return msg;
  }
  return {};
}

// A promise whose reply is handled on the worker thread, if the session
// still exists then.
GstPromise *
make_promise (const std::shared_ptr<WebrtcSession> &session,
    const std::shared_ptr<Worker> &worker, Reply fn)
{
  auto *ctx = new PromiseCtx{session, worker, std::move (fn)};
  return gst_promise_new_with_change_func (
      [] (GstPromise *promise, gpointer data) {
        auto *ctx = static_cast<PromiseCtx *> (data);
        const GstStructure *reply = nullptr;
        std::string error = reply_error (promise, &reply);
        GstStructure *copy = reply ? gst_structure_copy (reply) : nullptr;
        std::weak_ptr<WebrtcSession> weak = ctx->session;
        Reply fn = ctx->fn;
        ctx->worker->post ([weak, fn, copy, error] {
          if (auto s = weak.lock ()) {
            if (!s->closed ())
              fn (*s, copy, error);
          }
          if (copy)
            gst_structure_free (copy);
        });
      },
      ctx, [] (gpointer data) { delete static_cast<PromiseCtx *> (data); });
}

constexpr const char *kNoRelayServer =
    "ice-transport-policy=relay, but neither turn-servers nor the signalling server (its "
    "welcome, or the Link headers of a WHIP/WHEP answer) name a TURN server: there is no "
    "path";

// The STUN/TURN servers the signaller's server handed out: typed from a
// signaller derived from RtcstreamBaseSignaller, else read back from the
// interface's webrtcbin URIs.
std::vector<IceServer>
announced_ice_servers (RtcstreamSignaller *signaller)
{
  if (RTCSTREAM_IS_BASE_SIGNALLER (signaller))
    return signaller_ice_servers (RTCSTREAM_BASE_SIGNALLER (signaller));
  std::vector<IceServer> out;
  g_auto (GStrv) uris = rtcstream_signaller_get_ice_servers (signaller);
  for (gchar **it = uris; it && *it; it++) {
    IceServer s;
    if (IceServer::from_webrtcbin_uri (*it, s))
      out.push_back (std::move (s));
  }
  return out;
}

struct SignalCtx {
  std::weak_ptr<WebrtcSession> session;
  std::shared_ptr<Worker> worker;
  RtcstreamSignaller *signaller;  // kept alive by the session
  std::string session_id;
};

// A new receiving jitterbuffer starts with its first few consecutive
// packets at once instead of holding the first one for its whole latency
// (faststart): the first frame is decoded that much sooner. Later packets
// wait for gaps as always.
constexpr guint kFastStartPackets = 3;

// rtpbin's thread (new-jitterbuffer): a stream's jitterbuffer was made.
void
on_new_jitterbuffer (GstElement *, GstElement *jitterbuffer, guint, guint, gpointer)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer), "faststart-min-packets"))
    g_object_set (jitterbuffer, "faststart-min-packets", kFastStartPackets, nullptr);
}

// DTLS handshake datagrams go out twice. GStreamer 1.22's DTLS cuts each
// flight into datagrams of at most 256 bytes (its BIO reports no MTU), so a
// flight with a certificate is 5-8 of them, and OpenSSL resends a flight
// only after 1, 2, 4, 8, 16 s: at 5-10% loss a whole round trip of flights
// arrived intact in about half the tries, and in a few % of sessions the
// handshake was not done after 20 s (netsim's loss checks; the peer never
// had its keys, so sent no RTCP, and was dropped as silent). Sent twice, a
// datagram is lost only when both copies are (p^2: 0.25% at 5% loss). DTLS
// drops duplicates itself (handshake fragments are reassembled once, records
// carry sequence numbers); a handshake is a few KB, once per session.
thread_local bool sending_copy = false;

// nicesink's streaming thread: a datagram about to go out.
GstPadProbeReturn
send_handshake_twice (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  // RFC 7983: a first byte of 20-63 is DTLS; 22 a handshake record, 20 a
  // change_cipher_spec (application data, 23, is SCTP's: not copied).
  guint8 type = 0;
  if (sending_copy || !buf || gst_buffer_extract (buf, 0, &type, 1) != 1 ||
      (type != 22 && type != 20))
    return GST_PAD_PROBE_OK;
  // The copy first, through this pad (its stream lock is ours already, and
  // recursive), past this probe.
  sending_copy = true;
  gst_pad_chain (pad, gst_buffer_copy (buf));
  sending_copy = false;
  return GST_PAD_PROBE_OK;
}

// One clocksync's pacing (send-pace.h): what its sink pad saw, and the
// ts-offset it was given. Shared by its two probes.
struct PaceCtx {
  std::mutex lock;
  SendPace pace;
  GstSegment segment;
  GstClockTime last_ts = GST_CLOCK_TIME_NONE;  // one sample per frame
  GstClockTime latency = GST_CLOCK_TIME_NONE;  // what clocksync waits for
  gint64 offset = 0;                           // ts-offset applied
};

using PaceRef = std::shared_ptr<PaceCtx>;

void
free_pace_ref (gpointer data)
{
  delete static_cast<PaceRef *> (data);
}

// Sets the clocksync's ts-offset so that it waits for the pace's hold, not
// for the upstream latency. Called with ctx->lock held.
void
apply_pace (GstElement *clocksync, PaceCtx *ctx)
{
  if (!GST_CLOCK_TIME_IS_VALID (ctx->latency) || ctx->pace.hold () == 0)
    return;
  // Never later than webrtcbin would have sent it: at most 0.
  const gint64 offset = std::min<gint64> (0, (gint64) ctx->pace.hold () - (gint64) ctx->latency);
  if (std::abs (offset - ctx->offset) < (gint64) GST_MSECOND)
    return;
  GST_LOG_OBJECT (clocksync, "frames leave %" GST_TIME_FORMAT " after capture (latency %"
      GST_TIME_FORMAT ")", GST_TIME_ARGS (ctx->pace.hold ()), GST_TIME_ARGS (ctx->latency));
  ctx->offset = offset;
  g_object_set (clocksync, "ts-offset", offset, nullptr);
}

// The streaming thread of a clocksync's sink pad: each frame's age on its
// way in (its running time against the clock), and the segment to read it.
GstPadProbeReturn
pace_frames (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  PaceCtx *ctx = static_cast<PaceRef *> (data)->get ();
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      std::lock_guard<std::mutex> lk (ctx->lock);
      gst_event_copy_segment (ev, &ctx->segment);
    }
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *buf = (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
      ? gst_buffer_list_get (GST_PAD_PROBE_INFO_BUFFER_LIST (info), 0)
      : GST_PAD_PROBE_INFO_BUFFER (info);
  if (!buf)
    return GST_PAD_PROBE_OK;
  const GstClockTime ts = GST_BUFFER_DTS_OR_PTS (buf);
  g_autoptr (GstElement) clocksync = GST_ELEMENT (gst_pad_get_parent (pad));
  if (!clocksync || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_PAD_PROBE_OK;
  g_autoptr (GstClock) clock = gst_element_get_clock (clocksync);
  if (!clock)
    return GST_PAD_PROBE_OK;
  const GstClockTime base = gst_element_get_base_time (clocksync);
  const GstClockTime now = gst_clock_get_time (clock);
  std::lock_guard<std::mutex> lk (ctx->lock);
  if (ts == ctx->last_ts || ctx->segment.format != GST_FORMAT_TIME)
    return GST_PAD_PROBE_OK;
  ctx->last_ts = ts;
  const GstClockTime running = gst_segment_to_running_time (&ctx->segment, GST_FORMAT_TIME, ts);
  if (!GST_CLOCK_TIME_IS_VALID (running) || now < base)
    return GST_PAD_PROBE_OK;
  const GstClockTime age = now - base > running ? now - base - running : 0;
  ctx->pace.frame (now, age);
  apply_pace (clocksync, ctx);
  return GST_PAD_PROBE_OK;
}

// A clocksync's sink pad, once upstream answered its latency query: what it
// will wait for (the minimum when live, nothing when not).
GstPadProbeReturn
pace_latency (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);
  if (!q || GST_QUERY_TYPE (q) != GST_QUERY_LATENCY)
    return GST_PAD_PROBE_OK;
  gboolean live = FALSE;
  GstClockTime min = 0;
  gst_query_parse_latency (q, &live, &min, nullptr);
  g_autoptr (GstElement) clocksync = GST_ELEMENT (gst_pad_get_parent (pad));
  if (!clocksync)
    return GST_PAD_PROBE_OK;
  PaceCtx *ctx = static_cast<PaceRef *> (data)->get ();
  std::lock_guard<std::mutex> lk (ctx->lock);
  const GstClockTime latency = live && GST_CLOCK_TIME_IS_VALID (min) ? min : 0;
  if (latency != ctx->latency)
    GST_DEBUG_OBJECT (clocksync, "upstream latency %" GST_TIME_FORMAT ", %s",
        GST_TIME_ARGS (latency), latency ? "live: frames leave as soon as the encoder's pace "
        "allows (send-pace.h)" : "paced by running time");
  ctx->latency = latency;
  apply_pace (clocksync, ctx);
  return GST_PAD_PROBE_OK;
}

// webrtcbin's thread: an element was added somewhere inside it (its
// transports are made when a description is applied, its input clocksyncs
// when a stream is linked).
void
on_element_added (GstBin *bin, GstBin *sub_bin, GstElement *element, gpointer)
{
  GstElementFactory *f = gst_element_get_factory (element);
  const char *factory = f ? GST_OBJECT_NAME (f) : "";
  if (g_strcmp0 (factory, "nicesink") == 0) {
    if (g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink"))
      gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, send_handshake_twice, nullptr, nullptr);
  } else if (g_strcmp0 (factory, "clocksync") == 0 && sub_bin == bin) {
    g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink");
    if (!sink)
      return;
    auto ctx = std::make_shared<PaceCtx> ();
    gst_segment_init (&ctx->segment, GST_FORMAT_UNDEFINED);
    gst_pad_add_probe (sink, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM), pace_frames,
        new PaceRef (ctx), free_pace_ref);
    gst_pad_add_probe (sink, (GstPadProbeType) (GST_PAD_PROBE_TYPE_QUERY_UPSTREAM |
        GST_PAD_PROBE_TYPE_PULL), pace_latency, new PaceRef (ctx), free_pace_ref);
  }
}

// rtpbin's thread: the peer sent RTCP (a sender or receiver report).
void
on_ssrc_active (GstElement *, guint, guint, gpointer data)
{
  if (auto s = static_cast<SignalCtx *> (data)->session.lock ())
    s->heard_from_peer ();
}

// rtpsession's RTCP thread: a transport-layer or payload-specific feedback
// packet of the peer. REMBs (PSFB, application layer) are kept for the
// sink's congestion control.
void
on_feedback_rtcp (GObject *, guint type, guint fbtype, guint, guint, GstBuffer *fci,
    gpointer data)
{
  constexpr guint kPsfb = 206, kAfb = 15;
  if (type != kPsfb || fbtype != kAfb || !fci)
    return;
  GstMapInfo map;
  if (!gst_buffer_map (fci, &map, GST_MAP_READ))
    return;
  guint64 bps = 0;
  bool remb = parse_remb (map.data, map.size, &bps);
  gst_buffer_unmap (fci, &map);
  if (remb)
    if (auto s = static_cast<std::weak_ptr<WebrtcSession> *> (data)->lock ())
      s->remb_received (bps);
}

// rtpbin's thread: an SSRC is new in RTP session `id` (bundled: one
// session). The first time, listens to that session's feedback.
void
on_new_ssrc (GstElement *rtpbin, guint id, guint, gpointer data)
{
  GObject *rtpsession = nullptr;
  g_signal_emit_by_name (rtpbin, "get-internal-session", id, &rtpsession);
  if (!rtpsession)
    return;
  if (!g_object_get_data (rtpsession, "rtcstream-feedback")) {
    g_object_set_data (rtpsession, "rtcstream-feedback", GINT_TO_POINTER (1));
    g_signal_connect_data (rtpsession, "on-feedback-rtcp", G_CALLBACK (on_feedback_rtcp),
        new std::weak_ptr<WebrtcSession> (
            *static_cast<std::weak_ptr<WebrtcSession> *> (data)),
        [] (gpointer d, GClosure *) { delete static_cast<std::weak_ptr<WebrtcSession> *> (d); },
        (GConnectFlags) 0);
  }
  g_object_unref (rtpsession);
}

void
on_ice_candidate (GstElement *, guint mline, gchar *candidate, gpointer data)
{
  auto *ctx = static_cast<SignalCtx *> (data);
  if (!candidate || !*candidate)
    return;  // the end is told once, from on_gathering_done
  if (auto s = ctx->session.lock ()) {
    if (!s->closed ())
      rtcstream_signaller_add_ice (ctx->signaller, ctx->session_id.c_str (), mline, candidate);
  }
}

// webrtcbin's thread, as on-ice-candidate (so after the last candidate):
// gathering done is told as an empty candidate, which signallers that put
// every candidate inside the SDP (WHIP in full ICE mode) wait for.
void
on_gathering_done (GstElement *webrtc, GParamSpec *, gpointer data)
{
  auto *ctx = static_cast<SignalCtx *> (data);
  GstWebRTCICEGatheringState state;
  g_object_get (webrtc, "ice-gathering-state", &state, nullptr);
  if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    return;
  if (auto s = ctx->session.lock ()) {
    if (!s->closed ())
      rtcstream_signaller_add_ice (ctx->signaller, ctx->session_id.c_str (), 0, "");
  }
}

const char *
state_name (GstWebRTCPeerConnectionState state)
{
  switch (state) {
    case GST_WEBRTC_PEER_CONNECTION_STATE_NEW: return "new";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING: return "connecting";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED: return "connected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED: return "disconnected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED: return "failed";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED: return "closed";
  }
  return "unknown";
}

std::string
join (const std::vector<std::string> &items)
{
  std::string r;
  for (const std::string &i : items)
    r += (r.empty () ? "" : ", ") + i;
  return r;
}

guint64
value_as_u64 (const GValue *v)
{
  if (!v)
    return 0;
  if (G_VALUE_HOLDS_UINT64 (v)) return g_value_get_uint64 (v);
  if (G_VALUE_HOLDS_INT64 (v)) return (guint64) std::max<gint64> (0, g_value_get_int64 (v));
  if (G_VALUE_HOLDS_UINT (v)) return g_value_get_uint (v);
  if (G_VALUE_HOLDS_INT (v)) return (guint64) std::max (0, g_value_get_int (v));
  return 0;
}

}  // namespace

void
WebrtcSession::on_connection_state (GstElement *webrtc, GParamSpec *, gpointer data)
{
  auto *ctx = static_cast<SignalCtx *> (data);
  GstWebRTCPeerConnectionState state;
  g_object_get (webrtc, "connection-state", &state, nullptr);
  std::weak_ptr<WebrtcSession> weak = ctx->session;
  ctx->worker->post ([weak, state] {
    auto s = weak.lock ();
    if (!s || s->closed ())
      return;
    GST_INFO ("session %s: connection %s", s->id ().c_str (), state_name (state));
    if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
      if (s->failed_)
        return;  // already reported, with its reason
      s->failed_ = true;
      std::lock_guard<std::mutex> lk (s->stats_lock_);
      if (!s->turn_problem_.empty ())
        s->failure_ = s->turn_problem_;
      else if (s->relay_only_)
        s->failure_ = "the path through the TURN relay (" + join (s->turn_names_) +
            ") failed or was lost: check that the TURN server is running and reachable. "
            "With ice-transport-policy=relay there is no other path";
    }
    {
      std::lock_guard<std::mutex> lk (s->stats_lock_);
      s->stats_.state = s->failed_ ? "failed" : state_name (state);
    }
    if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
      s->watch_silence ();
      s->bound_retransmission_history ();
    }
    if (s->on_state_)
      s->on_state_ (state);
  });
}

namespace {

// The DTLS state of the first media transport of webrtcbin ("connected",
// "connecting", ...; "unknown" without one), for the silent peer's message:
// a peer that sends RTCP we cannot decrypt is as silent as one that vanished.
std::string
dtls_state (GstElement *webrtcbin)
{
  std::string out = "unknown";
  GArray *transceivers = nullptr;
  g_signal_emit_by_name (webrtcbin, "get-transceivers", &transceivers);
  for (guint i = 0; transceivers && i < transceivers->len && out == "unknown"; i++) {
    auto *t = g_array_index (transceivers, GstWebRTCRTPTransceiver *, i);
    g_autoptr (GstWebRTCRTPReceiver) receiver = nullptr;
    g_object_get (t, "receiver", &receiver, nullptr);
    g_autoptr (GstWebRTCDTLSTransport) transport = nullptr;
    if (receiver)
      g_object_get (receiver, "transport", &transport, nullptr);
    if (!transport)
      continue;
    GstWebRTCDTLSTransportState state = GST_WEBRTC_DTLS_TRANSPORT_STATE_NEW;
    g_object_get (transport, "state", &state, nullptr);
    auto *klass = static_cast<GEnumClass *> (
        g_type_class_peek (GST_TYPE_WEBRTC_DTLS_TRANSPORT_STATE));
    GEnumValue *v = klass ? g_enum_get_value (klass, state) : nullptr;
    out = v ? v->value_nick : "unknown";
  }
  if (transceivers)
    g_array_unref (transceivers);
  return out;
}

}  // namespace

// Worker, once connected. GStreamer 1.22's ICE has no consent freshness, so
// it never notices a peer that vanished (killed, unplugged) once connected;
// every WebRTC peer sends RTCP every few seconds, so its silence does.
void
WebrtcSession::watch_silence ()
{
  if (silence_watched_)
    return;
  silence_watched_ = true;
  // A session of data streams only has no RTP, so no RTCP: it would be
  // "silent" from the start. SCTP's own heartbeats watch its peer instead
  // (its channels close when the association dies).
  GArray *transceivers = nullptr;
  if (webrtcbin_)
    g_signal_emit_by_name (webrtcbin_.get (), "get-transceivers", &transceivers);
  const bool media = transceivers && transceivers->len > 0;
  if (transceivers)
    g_array_unref (transceivers);
  if (!media) {
    GST_INFO ("session %s: no audio or video: not watched for silence", id_.c_str ());
    return;
  }
  heard_from_peer ();
  std::weak_ptr<WebrtcSession> weak = weak_from_this ();
  struct Check {
    static void
    schedule (const std::weak_ptr<WebrtcSession> &weak, const std::shared_ptr<Worker> &worker)
    {
      worker->post_delayed (kSilenceCheckMs, [weak, worker] {
        auto s = weak.lock ();
        if (!s || s->closed () || s->failed_)
          return;
        if (g_get_monotonic_time () - s->last_heard_us_ > kSilenceLimitS * G_USEC_PER_SEC) {
          const std::string dtls = s->webrtcbin_ ? dtls_state (s->webrtcbin_.get ()) : "unknown";
          GST_INFO ("session %s: no RTCP from the peer for %d s (DTLS %s)", s->id ().c_str (),
              kSilenceLimitS, dtls.c_str ());
          s->fail ("the peer went silent (no RTCP from it for " +
              std::to_string (kSilenceLimitS) + " s; DTLS " + dtls + (dtls == "connected"
                  ? "): it vanished or its network did"
                  : ": the handshake never finished, so none of its RTCP could be read)"));
          return;
        }
        schedule (weak, worker);
      });
    }
  };
  Check::schedule (weak, worker_);
}

WebrtcSession::WebrtcSession (std::string id, std::string peer_id,
    std::shared_ptr<Worker> worker, RtcstreamSignaller *signaller, GstBin *bin)
    : id_ (std::move (id)), peer_id_ (std::move (peer_id)), worker_ (std::move (worker)),
      signaller_ (Ref<RtcstreamSignaller>::take_ref (signaller)),
      bin_ (Ref<GstBin>::take_ref (bin))
{
  init_debug ();
}

WebrtcSession::~WebrtcSession ()
{
  if (!closed_ && webrtcbin_)
    GST_WARNING ("session %s destroyed without close()", id_.c_str ());
}

namespace {
// The background preparation (see prepare ()); never destroyed, so that a
// process that exits without finish_preparing () does not terminate on a
// joinable std::thread.
std::mutex preparing_lock;
std::thread *preparing = nullptr;
}  // namespace

void
WebrtcSession::finish_preparing ()
{
  std::lock_guard<std::mutex> lk (preparing_lock);
  if (preparing && preparing->joinable ())
    preparing->join ();
}

void
WebrtcSession::prepare ()
{
  static std::once_flag once;
  std::call_once (once, [] {
    init_debug ();
    // GStreamer's DTLS elements make one certificate per process (an RSA
    // 2048 key: 75-500 ms of CPU here) when the first of them is created,
    // which is in the first session's set-remote/local-description: on the
    // path to its first frame. Made here instead, in the background, while
    // the signalling is still finding a peer.
    // Joined, not detached: a process that exits while OpenSSL makes the
    // key crashes in OpenSSL's exit handlers (a gst-launch viewer that
    // fails at once did, 8 runs in 15).
    std::lock_guard<std::mutex> lk (preparing_lock);
    preparing = new std::thread ([] {
      const gint64 t0 = g_get_monotonic_time ();
      if (GstElement *dec = gst_element_factory_make ("dtlsdec", nullptr)) {
        gst_object_unref (gst_object_ref_sink (dec));
        GST_DEBUG ("DTLS certificate ready in %.1f ms",
            (g_get_monotonic_time () - t0) / 1000.0);
      }
    });
  });
}

std::string
WebrtcSession::create (const IceConfig &ice, guint latency_ms, StateChanged on_state)
{
  std::string name = "webrtc-" + id_;
  GstElement *w = gst_element_factory_make ("webrtcbin", name.c_str ());
  if (!w)
    return "The webrtcbin element is missing: install gstreamer1.0-plugins-bad and "
           "gstreamer1.0-nice";
  on_state_ = std::move (on_state);
  gst_util_set_object_arg (G_OBJECT (w), "bundle-policy", "max-bundle");
  g_object_set (w, "latency", latency_ms, nullptr);
  disable_upnp (w);  // nobody asked for router port mappings
  pace_ice_checks (w);
  set_ice_tcp (w, ice.tcp);

  // Servers the signalling side hands out (rtcstream-signalling's welcome)
  // are known now and join the element's own (its stun-server wins);
  // WHIP/WHEP endpoints announce theirs with the answer, see offer ().
  servers_in_answer_ = rtcstream_signaller_get_features (signaller_.get ()) &
      RTCSTREAM_SIGNALLER_FEATURE_ICE_SERVERS_IN_ANSWER;
  std::vector<IceServer> all = ice.servers;
  if (!servers_in_answer_) {
    std::vector<IceServer> announced = announced_ice_servers (signaller_.get ());
    if (!announced.empty ())
      GST_INFO ("session %s: the signalling server hands out %zu STUN/TURN server(s)",
          id_.c_str (), announced.size ());
    all.insert (all.end (), announced.begin (), announced.end ());
  }
  const WebrtcbinIceUris uris = webrtcbin_ice_uris (all);
  if (!uris.stun.empty ())
    g_object_set (w, "stun-server", uris.stun.c_str (), nullptr);
  turn_names_.clear ();
  for (const std::string &turn : uris.turn) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (w, "add-turn-server", turn.c_str (), &ok);
    if (!ok)
      GST_WARNING ("webrtcbin refused TURN server %s", turn_display_name (turn).c_str ());
    turn_names_.push_back (turn_display_name (turn));
  }
  if (ice.relay_only)
    gst_util_set_object_arg (G_OBJECT (w), "ice-transport-policy", "relay");
  relay_only_ = ice.relay_only;

  webrtcbin_ = Ref<GstElement>::take_ref (w);  // sinks the floating ref
  gst_bin_add (bin_.get (), w);

  // Each handler gets a context of its own, freed with its connection.
  auto connect = [this] (gpointer instance, const char *signal, GCallback handler) {
    g_signal_connect_data (instance, signal, handler,
        new SignalCtx{weak_from_this (), worker_, signaller_.get (), id_},
        [] (gpointer data, GClosure *) { delete static_cast<SignalCtx *> (data); },
        (GConnectFlags) 0);
  };
  connect (w, "on-ice-candidate", G_CALLBACK (on_ice_candidate));
  connect (w, "notify::connection-state", G_CALLBACK (on_connection_state));
  connect (w, "notify::ice-gathering-state", G_CALLBACK (on_gathering_done));
  // Always: TURN servers may also come later, announced with the answer.
  connect (w, "notify::ice-gathering-state", G_CALLBACK (on_gathering_state));
  // Every RTCP packet of the peer: its liveness (see watch_silence).
  g_autoptr (GstElement) rtpbin = gst_bin_get_by_name (GST_BIN (w), "rtpbin");
  if (rtpbin) {
    connect (rtpbin, "on-ssrc-active", G_CALLBACK (on_ssrc_active));
    g_signal_connect_data (rtpbin, "on-new-ssrc", G_CALLBACK (on_new_ssrc),
        new std::weak_ptr<WebrtcSession> (weak_from_this ()),
        [] (gpointer d, GClosure *) { delete static_cast<std::weak_ptr<WebrtcSession> *> (d); },
        (GConnectFlags) 0);
    g_signal_connect (rtpbin, "new-jitterbuffer", G_CALLBACK (on_new_jitterbuffer), nullptr);
  }
  g_signal_connect (w, "deep-element-added", G_CALLBACK (on_element_added), nullptr);

  if (relay_only_ && turn_names_.empty () && !servers_in_answer_) {
    // Told as the session's failure, as for a relay that gives nothing, so
    // each element handles it as it handles a failed peer (the sink drops
    // that consumer, the src posts an error); not from inside create (),
    // whose caller is still setting the session up.
    std::weak_ptr<WebrtcSession> weak = weak_from_this ();
    worker_->post ([weak] {
      auto s = weak.lock ();
      if (s && !s->closed () && !s->failed_)
        s->fail (kNoRelayServer);
    });
  }
  return {};
}

void
WebrtcSession::sync_state ()
{
  if (webrtcbin_)
    gst_element_sync_state_with_parent (webrtcbin_.get ());
}

void
WebrtcSession::offer (Done done)
{
  GstPromise *p = make_promise (shared_from_this (), worker_,
      [done] (WebrtcSession &s, GstStructure *reply, const std::string &error) {
        GstWebRTCSessionDescription *offer = nullptr;
        if (error.empty () && reply)
          gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
        if (!offer) {
          done ("could not create an offer: " + (error.empty () ? "no offer" : error));
          return;
        }
        if (gst_debug_category_get_threshold (rtcstream_session_debug) >= GST_LEVEL_LOG) {
          gchar *text = gst_sdp_message_as_text (offer->sdp);
          GST_LOG ("session %s offer:\n%s", s.id_.c_str (), text);
          g_free (text);
        }
        // Queue the SDP first: ICE gathering starts with set-local-description
        // and its candidates must not reach the peer before the description.
        rtcstream_signaller_send_sdp (s.signaller_.get (), s.id_.c_str (), offer);
        if (s.servers_in_answer_) {
          GST_DEBUG ("session %s: local description waits for the answer and its ICE "
                     "servers", s.id_.c_str ());
          s.deferred_offer_.reset (offer);
        } else {
          g_signal_emit_by_name (s.webrtcbin_.get (), "set-local-description", offer, nullptr);
          gst_webrtc_session_description_free (offer);
        }
        done ({});
      });
  g_signal_emit_by_name (webrtcbin_.get (), "create-offer", nullptr, p);
  gst_promise_unref (p);
}

void
WebrtcSession::set_remote (GstWebRTCSessionDescription *desc, Done done)
{
  if (deferred_offer_) {
    // The answer to an offer whose local description waited for it (see
    // offer()): the announced servers first, then gathering, then the answer.
    // webrtcbin runs the two operations in this order on its own thread.
    apply_announced_ice_servers ();
    if (failed_ || closed_) {
      done ({});  // the failure is told through on_state_
      return;
    }
    g_signal_emit_by_name (webrtcbin_.get (), "set-local-description", deferred_offer_.get (),
        nullptr);
    deferred_offer_.reset ();
  }
  if (desc->type == GST_WEBRTC_SDP_TYPE_ANSWER)
    answer_.reset (gst_webrtc_session_description_copy (desc));
  GstPromise *p = make_promise (shared_from_this (), worker_,
      [done] (WebrtcSession &, GstStructure *, const std::string &error) {
        done (error.empty () ? std::string () : "remote description refused: " + error);
      });
  g_signal_emit_by_name (webrtcbin_.get (), "set-remote-description", desc, p);
  gst_promise_unref (p);
}

void
WebrtcSession::answer (Done done, bool dtls_server)
{
  GstPromise *p = make_promise (shared_from_this (), worker_,
      [done, dtls_server] (WebrtcSession &s, GstStructure *reply, const std::string &error) {
        GstWebRTCSessionDescription *answer = nullptr;
        if (error.empty () && reply)
          gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
        if (!answer) {
          done ("could not create an answer: " + (error.empty () ? "no answer" : error));
          return;
        }
        // webrtcbin answers a=setup:active, and takes the role its local
        // description names (webrtcsdp.c, _get_final_setup).
        if (dtls_server)
          sdp_answer_as_dtls_server (answer->sdp);
        // Queue the SDP first: ICE gathering starts with set-local-description
        // and its candidates must not reach the peer before the description.
        rtcstream_signaller_send_sdp (s.signaller_.get (), s.id_.c_str (), answer);
        g_signal_emit_by_name (s.webrtcbin_.get (), "set-local-description", answer, nullptr);
        s.answer_.reset (answer);
        done ({});
      });
  g_signal_emit_by_name (webrtcbin_.get (), "create-answer", nullptr, p);
  gst_promise_unref (p);
}

void
WebrtcSession::add_ice (guint mline, const std::string &candidate)
{
  if (webrtcbin_ && !closed_)
    g_signal_emit_by_name (webrtcbin_.get (), "add-ice-candidate", mline, candidate.c_str ());
}

GstWebRTCSessionDescription *
WebrtcSession::answer_description () const
{
  return answer_ ? gst_webrtc_session_description_copy (answer_.get ()) : nullptr;
}

void
WebrtcSession::refresh_stats ()
{
  if (!webrtcbin_ || closed_)
    return;
  GstPromise *p = make_promise (shared_from_this (), worker_,
      [] (WebrtcSession &s, GstStructure *reply, const std::string &error) {
        if (error.empty () && reply)
          s.on_stats (reply);
      });
  g_signal_emit_by_name (webrtcbin_.get (), "get-stats", nullptr, p);
  gst_promise_unref (p);
}

void
WebrtcSession::on_stats (const GstStructure *reply)
{
  guint64 sent = 0, received = 0, lost = 0, report_key = 0;
  double rtt = -1.0, fraction_lost = -1.0;
  std::string pair_local, pair_remote;         // candidate ids of the selected pair
  std::map<std::string, std::string> cand_types;  // candidate id -> type
  std::map<std::string, std::string> cand_protocols;  // candidate id -> udp or tcp
  gint n = gst_structure_n_fields (reply);
  for (gint i = 0; i < n; i++) {
    const GValue *v = gst_structure_get_value (reply, gst_structure_nth_field_name (reply, i));
    if (!v || !GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    const GstStructure *st = gst_value_get_structure (v);
    GstWebRTCStatsType type;
    if (!gst_structure_get_enum (st, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint *) &type))
      continue;
    if (type == GST_WEBRTC_STATS_OUTBOUND_RTP) {
      sent += value_as_u64 (gst_structure_get_value (st, "bytes-sent"));
    } else if (type == GST_WEBRTC_STATS_INBOUND_RTP) {
      received += value_as_u64 (gst_structure_get_value (st, "bytes-received"));
      lost += value_as_u64 (gst_structure_get_value (st, "packets-lost"));
    } else if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
      double r;
      if (gst_structure_get_double (st, "round-trip-time", &r) && r >= 0)
        rtt = std::max (rtt, r * 1000.0);
      if (gst_structure_get_double (st, "fraction-lost", &r))
        fraction_lost = std::max (fraction_lost, r);
      GstStructure *source = nullptr;
      guint highest = 0;
      if (gst_structure_get (st, "gst-rtpsource-stats", GST_TYPE_STRUCTURE, &source, nullptr)) {
        gst_structure_get_uint (source, "rb-exthighestseq", &highest);
        gst_structure_free (source);
      }
      report_key += highest;
    } else if (type == GST_WEBRTC_STATS_CANDIDATE_PAIR) {
      // webrtcbin reports the selected pair only.
      const char *l = gst_structure_get_string (st, "local-candidate-id");
      const char *r = gst_structure_get_string (st, "remote-candidate-id");
      pair_local = l ? l : "";
      pair_remote = r ? r : "";
    } else if (type == GST_WEBRTC_STATS_LOCAL_CANDIDATE ||
        type == GST_WEBRTC_STATS_REMOTE_CANDIDATE) {
      const char *id = gst_structure_get_string (st, "id");
      const char *ctype = gst_structure_get_string (st, "candidate-type");
      const char *proto = gst_structure_get_string (st, "protocol");
      if (id && ctype)
        cand_types[id] = ctype;
      if (id && proto)
        cand_protocols[id] = proto;
    }
  }
  std::unique_lock<std::mutex> lk (stats_lock_);
  stats_.bytes_sent = sent;
  stats_.bytes_received = received;
  stats_.packets_lost = lost;
  if (rtt >= 0)
    stats_.rtt_ms = rtt;
  if (fraction_lost >= 0) {
    stats_.fraction_lost = fraction_lost;
    stats_.report_key = report_key;
  }
  if (cand_types.count (pair_local) && cand_types.count (pair_remote)) {
    stats_.local_candidate_type = cand_types[pair_local];
    stats_.remote_candidate_type = cand_types[pair_remote];
  }
  if (cand_protocols.count (pair_local))
    stats_.candidate_protocol = cand_protocols[pair_local];
  lk.unlock ();
  if (rtt >= 0)
    bound_retransmission_history ();
}

// webrtcbin's thread.
void
WebrtcSession::on_gathering_state (GstElement *webrtc, GParamSpec *, gpointer data)
{
  auto *ctx = static_cast<SignalCtx *> (data);
  GstWebRTCICEGatheringState state;
  g_object_get (webrtc, "ice-gathering-state", &state, nullptr);
  if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    return;
  std::weak_ptr<WebrtcSession> weak = ctx->session;
  ctx->worker->post ([weak] {
    auto s = weak.lock ();
    if (s && !s->closed ())
      s->check_relay_candidates ();
  });
}

// Worker thread, once gathering is complete. webrtcbin puts every local
// candidate into its local description before it announces the end of
// gathering, so the description tells whether any TURN server gave a relay.
// A wrong password or an unreachable server gives none; with
// ice-transport-policy=relay the session can then never connect, and ICE
// itself would only stay "checking", so fail it here with the reason.
void
WebrtcSession::check_relay_candidates ()
{
  if (failed_ || !webrtcbin_ || turn_names_.empty ())
    return;
  guint relays = 0;
  GstWebRTCSessionDescription *desc = nullptr;
  g_object_get (webrtcbin_.get (), "local-description", &desc, nullptr);
  if (desc) {
    for (guint i = 0; i < gst_sdp_message_medias_len (desc->sdp); i++) {
      const GstSDPMedia *media = gst_sdp_message_get_media (desc->sdp, i);
      for (guint j = 0; j < gst_sdp_media_attributes_len (media); j++) {
        const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, j);
        if (g_strcmp0 (a->key, "candidate") == 0 && a->value &&
            strstr (a->value, " typ relay"))
          relays++;
      }
    }
    gst_webrtc_session_description_free (desc);
  }
  if (relays > 0) {
    GST_INFO ("session %s: %u relay candidate(s) gathered", id_.c_str (), relays);
    return;
  }
  turn_problem_ = std::string ("no relay candidate was gathered from TURN server") +
      (turn_names_.size () > 1 ? "s " : " ") + join (turn_names_) +
      ": check the user and password in turn-servers (and the server's realm), and that "
      "the server is running and reachable from this host";
  if (!relay_only_) {
    GST_WARNING ("session %s: %s", id_.c_str (), turn_problem_.c_str ());
    return;
  }
  GST_WARNING ("session %s: relay only and %s", id_.c_str (), turn_problem_.c_str ());
  fail (turn_problem_ + ". With ice-transport-policy=relay there is no other path");
}

// Worker thread. Fails the session with a reason, told through on_state_.
void
WebrtcSession::fail (const std::string &reason)
{
  failed_ = true;
  {
    std::lock_guard<std::mutex> lk (stats_lock_);
    failure_ = reason;
    stats_.state = "failed";
  }
  if (on_state_)
    on_state_ (GST_WEBRTC_PEER_CONNECTION_STATE_FAILED);
}

// Worker thread, before the deferred local description is set: adds the
// STUN/TURN servers the signaller learnt with the answer (its "ice-servers",
// webrtcbin URIs) to those of the element. A STUN server configured on the
// element is kept; TURN servers add up.
void
WebrtcSession::apply_announced_ice_servers ()
{
  const std::vector<IceServer> announced = announced_ice_servers (signaller_.get ());
  GstElement *w = webrtcbin_.get ();
  const WebrtcbinIceUris uris = webrtcbin_ice_uris (announced);
  const std::string &stun = uris.stun;
  if (!stun.empty ()) {
    g_autofree gchar *current = nullptr;
    g_object_get (w, "stun-server", &current, nullptr);
    if (current && *current) {
      GST_INFO ("session %s: keeping stun-server %s, not the announced %s", id_.c_str (),
          current, stun.c_str ());
    } else {
      g_object_set (w, "stun-server", stun.c_str (), nullptr);
    }
  }
  for (const std::string &uri : uris.turn) {
    // After the offer the ICE streams exist already: add-turn-server would
    // only keep the server for streams made later (see ice-agent.h).
    std::string error;
    if (!add_turn_server_to_streams (w, uri, error)) {
      GST_WARNING ("session %s: announced TURN server not used: %s", id_.c_str (),
          error.c_str ());
      continue;
    }
    turn_names_.push_back (turn_display_name (uri));
    GST_INFO ("session %s: announced TURN server %s in use", id_.c_str (),
        turn_names_.back ().c_str ());
  }
  if (relay_only_ && turn_names_.empty ())
    fail (kNoRelayServer);
}

std::string
WebrtcSession::failure () const
{
  std::lock_guard<std::mutex> lk (stats_lock_);
  return failure_;
}

void
WebrtcSession::remb_received (guint64 bps)
{
  std::lock_guard<std::mutex> lk (stats_lock_);
  stats_.remb_bps = bps;
  stats_.remb_count++;
}

SessionStats
WebrtcSession::stats () const
{
  std::lock_guard<std::mutex> lk (stats_lock_);
  return stats_;
}

void
WebrtcSession::set_codecs (const std::string &codecs)
{
  std::lock_guard<std::mutex> lk (stats_lock_);
  stats_.codecs = codecs;
}

std::vector<GstElement *>
elements_inside (GstBin *bin)
{
  std::vector<GstElement *> out;
  GstIterator *it = gst_bin_iterate_recurse (bin);
  GValue item = G_VALUE_INIT;
  for (bool done = false; !done;) {
    switch (gst_iterator_next (it, &item)) {
      case GST_ITERATOR_OK:
        out.push_back (GST_ELEMENT (g_value_dup_object (&item)));
        g_value_reset (&item);
        break;
      case GST_ITERATOR_RESYNC:
        for (GstElement *e : out)
          gst_object_unref (e);
        out.clear ();
        gst_iterator_resync (it);
        break;
      default:
        done = true;
        break;
    }
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return out;
}

namespace {

// Makes an sctpenc's waiting sends and its task return, for good:
// FLUSH_START into its src pad (its queue flushes, a send waiting for room
// returns), and from then on no RECONFIGURE or FLUSH_STOP reaches it. In
// 1.22 sctpenc starts its task, in any state, for every RECONFIGURE or
// FLUSH_STOP on its src pad (the first comes when webrtcbin links it,
// before DTLS is up, while it is NULL), with its queue unflushed: a task
// started so after a stop waits in gst_data_queue_pop for ever, and
// whoever finalizes the sctpenc hangs joining it. (The churn benchmark's
// producer hung so at cycle ~430 on 2026-12-02 with stop_stragglers in
// place, which stops any sctpenc not NULL: most likely that one was NULL
// with its task started this way; not proven, the hang is rare.)
// Returns whether sctpenc's src pad took the FLUSH_START: a pad refuses it
// while it is flushing already, which an inactive pad (its element in READY
// or NULL) always is.
bool
flush_sctpenc (GstElement *sctpenc)
{
  GstPad *src = gst_element_get_static_pad (sctpenc, "src");
  if (!src)
    return false;
  if (!g_object_get_data (G_OBJECT (src), "rtcstream-stopped")) {
    g_object_set_data (G_OBJECT (src), "rtcstream-stopped", GINT_TO_POINTER (1));
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        [] (GstPad *, GstPadProbeInfo *info, gpointer) {
          GstEventType t = GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info));
          return t == GST_EVENT_RECONFIGURE || t == GST_EVENT_FLUSH_STOP ? GST_PAD_PROBE_DROP
                                                                         : GST_PAD_PROBE_OK;
        },
        nullptr, nullptr);
  }
  const bool taken = gst_pad_send_event (src, gst_event_new_flush_start ());
  gst_object_unref (src);
  return taken;
}

// The last resort of stop_stragglers, for an sctpenc that is NULL and whose
// task still runs: its src pad is inactive, so it refused the FLUSH_START
// of flush_sctpenc, and its queue may not be flushing (sctpenc set it so
// when it left PAUSED, then a RECONFIGURE or FLUSH_STOP that reached the
// pad before the pad was deactivated unflushed it and restarted the task:
// rare, but the churn benchmark's producer hung on it every few hundred
// viewers with G_SLICE=always-malloc, its worker in gst_pad_stop_task
// below and the task in gst_data_queue_pop; every later viewer of the sink
// got nothing). Joining that task needs its queue flushing, and only
// sctpenc's src event function can do that in NULL: it gets the
// FLUSH_START the pad refused. The element is NULL and its pads are
// inactive, so nothing else of it runs but that task, which this wakes.
void
wake_stopped_sctpenc_task (GstElement *sctpenc, GstPad *src)
{
  GST_OBJECT_LOCK (sctpenc);
  const bool stopped = GST_STATE (sctpenc) == GST_STATE_NULL &&
      GST_STATE_PENDING (sctpenc) == GST_STATE_VOID_PENDING;
  GST_OBJECT_UNLOCK (sctpenc);
  GstPadEventFunction event = GST_PAD_EVENTFUNC (src);
  if (!stopped || GST_PAD_IS_ACTIVE (src) || !event)
    return;
  GST_WARNING_OBJECT (sctpenc, "its task runs in the NULL state with its queue unflushed: "
      "flushing it through its event function");
  event (src, GST_OBJECT (sctpenc), gst_event_new_flush_start ());
}

}  // namespace

// After webrtcbin went to NULL: an element inside it that still runs is set
// to NULL too. webrtcbin keeps its SCTP transport's sctpenc out of state
// changes (locked) until DTLS is up, then lets it follow again from its own
// thread; when that crosses our stop, the sctpenc's task runs on inside a
// stopped webrtcbin, and whoever drops the last reference to webrtcbin
// waits for ever to join it (in the churn benchmark: gst-launch-1.0's main
// loop, freeing a bus message, after ~500-700 viewers; its bus then
// stopped and every later session leaked).
void
stop_stragglers (GstElement *webrtcbin)
{
  for (GstElement *e : elements_inside (GST_BIN (webrtcbin))) {
    GST_OBJECT_LOCK (e);
    const bool runs = GST_STATE (e) != GST_STATE_NULL ||
        GST_STATE_PENDING (e) != GST_STATE_VOID_PENDING;
    GST_OBJECT_UNLOCK (e);
    if (runs) {
      GST_INFO_OBJECT (e, "still running in a stopped webrtcbin: stopping it");
      gst_element_set_state (e, GST_STATE_NULL);
    }
    // An sctpenc's task can run in the NULL state too (see
    // flush_sctpenc): flushed (again: this sctpenc may be newer than
    // stop_data_sends) and joined here, on our thread, rather than by
    // whoever drops the last reference.
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "sctpenc") == 0) {
      const bool flushed = flush_sctpenc (e);
      if (GstPad *src = gst_element_get_static_pad (e, "src")) {
        GST_OBJECT_LOCK (src);
        GstTask *task = GST_PAD_TASK (src);
        const bool started = task && gst_task_get_state (task) == GST_TASK_STARTED;
        GST_OBJECT_UNLOCK (src);
        if (started) {
          GST_INFO_OBJECT (e, "its task runs in a stopped webrtcbin: stopping it");
          if (!flushed)
            wake_stopped_sctpenc_task (e, src);
        }
        gst_pad_stop_task (src);
        gst_object_unref (src);
      }
    }
    gst_object_unref (e);
  }
}

namespace {

// How long after a session closed the heap is trimmed (trim_after_close).
constexpr guint kTrimDelayMs = 1000;
// When the last session closed (monotonic microseconds), in the whole process.
std::atomic<gint64> last_close_us{0};

// Worker thread, a while after a session closed at closed_us: once no other
// session closed meanwhile, gives the heap's free pages back to the system. A closed
// session frees a few MB (its webrtcbin, its threads' allocations, its
// retransmission history) that glibc's malloc keeps otherwise, to the high
// mark: a producer that served 15 viewers at once kept 50 MB more than
// before them, with no object of theirs alive (docs/performance.md, viewer
// churn). Only the last of a burst of closes trims: malloc_trim walks every
// arena, a few milliseconds.
void
trim_after_close (gint64 closed_us)
{
  if (last_close_us.load () != closed_us)
    return;  // another session closed since: its own trim comes later
#ifdef __GLIBC__
  const gint64 t0 = g_get_monotonic_time ();
  const int released = malloc_trim (0);
  GST_DEBUG ("malloc_trim after closing sessions: %s memory released, %.1f ms",
      released ? "some" : "no", (g_get_monotonic_time () - t0) / 1000.0);
#endif
}

// How long after a session closed GLib's slice allocator is swept
// (sweep_slice_cache): GLib's thread pool keeps a session's idle task
// threads for 15 s before they exit, and GSlice frees a magazine its depot
// got from an exiting thread only once it is 15 s old; 2 s to spare.
constexpr guint kSliceSweepDelayMs = (15 + 15 + 2) * 1000;

// GSlice's largest chunk (GLib 2.74, gslice.c: MAX_SLAB_CHUNK_SIZE of 8 KB
// pages, less the slab's own header) and its granularity (two pointers).
constexpr gsize kSliceMaxChunk = 1008;
constexpr gsize kSliceStep = 2 * sizeof (gsize);

// Worker thread, a while after a session closed at closed_us, when no other
// session closed since (the last of a burst of closes), with
// GLib before 2.76 (later releases have no slice allocator: g_slice is
// malloc). GStreamer 1.22 allocates its buffers, memories, events and
// structures with g_slice. Each thread caches chunks in magazines of its
// own, and an exiting thread hands them to a global depot
// (private_thread_memory_cleanup in GLib 2.74's gslice.c), whose magazines
// go back to the slabs, and the slabs to malloc, only when a later magazine
// of the same chunk size is pushed there and finds them 15 s old
// (magazine_cache_trim). A closed session's ~10 threads push theirs; after a
// burst of closes nothing may push again for good, and what they held stays
// allocated: 8 MB in a producer after 30 viewers, 15 at once
// (docs/performance.md, viewer churn). So a thread of ours frees four chunks
// of every size and exits: its magazines are pushed, which frees every
// magazine of the depot older than 15 s; then malloc_trim gives the freed
// pages back.
void
sweep_slice_cache (gint64 closed_us)
{
  if (last_close_us.load () != closed_us)
    return;  // another session closed since: its own sweep comes later
  if (glib_check_version (2, 76, 0) == nullptr)
    return;  // GLib 2.76 or later: g_slice is malloc
  const gint64 t0 = g_get_monotonic_time ();
  // Twice: GSlice reads the clock for its stamps only every eighth push, so
  // the first pushes of a thread may carry an old time and trim nothing.
  for (int pass = 0; pass < 2; pass++) {
    GThread *t = g_thread_try_new ("rtcstream-slice", [] (gpointer) -> gpointer {
      for (gsize size = kSliceStep; size <= kSliceMaxChunk; size += kSliceStep) {
        gpointer chunks[4];
        for (gpointer &c : chunks)
          c = g_slice_alloc (size);
        // Freed chunks fill the thread's second magazine: four or more are
        // pushed to the depot when the thread exits (MIN_MAGAZINE_SIZE).
        for (gpointer c : chunks)
          g_slice_free1 (size, c);
      }
      return nullptr;
    }, nullptr, nullptr);
    if (!t)
      return;  // out of threads: the next close sweeps
    g_thread_join (t);
  }
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  GST_DEBUG ("swept GLib's slice allocator after closing sessions: %.1f ms",
      (g_get_monotonic_time () - t0) / 1000.0);
}

}  // namespace

// Worker thread, once connected and whenever the round trip is measured
// again. webrtcbin keeps the last 500 packets a session sent for
// retransmission (its rtprtxsend's max-size-packets), whatever their age:
// 5.5 s of a 320x240 stream, about 650 KB a session, most of it useless,
// since a retransmission only helps while the receiver still waits for the
// packet. Like libwebrtc's sender (its RtpPacketHistory), keep max(1 s,
// 3 round trips), still at most 500 packets. On 1000 viewer join/leave
// cycles with 15 sessions at once this took 25 MB off the producer's peak
// (docs/performance.md, viewer churn).
void
WebrtcSession::bound_retransmission_history ()
{
  if (!webrtcbin_ || closed_)
    return;
  if (!rtx_history_found_) {
    rtx_history_found_ = true;
    for (GstElement *e : elements_inside (GST_BIN (webrtcbin_.get ()))) {
      GstElementFactory *f = gst_element_get_factory (e);
      if (f && g_strcmp0 (GST_OBJECT_NAME (f), "rtprtxsend") == 0 &&
          g_object_class_find_property (G_OBJECT_GET_CLASS (e), "max-size-time"))
        rtx_senders_.push_back (Ref<GstElement>::take_ref (e));
      gst_object_unref (e);
    }
  }
  double rtt_ms;
  {
    std::lock_guard<std::mutex> lk (stats_lock_);
    rtt_ms = stats_.rtt_ms;
  }
  const guint ms = static_cast<guint> (retransmission_horizon_us (rtt_ms) / 1000);
  if (ms == rtx_history_ms_)
    return;
  rtx_history_ms_ = ms;
  for (const Ref<GstElement> &rtx : rtx_senders_) {
    g_object_set (rtx.get (), "max-size-time", ms, nullptr);
    GST_DEBUG_OBJECT (rtx.get (), "session %s: retransmission history %u ms", id_.c_str (), ms);
  }
}

void
WebrtcSession::close ()
{
  if (closed_)
    return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lk (stats_lock_);
    stats_.state = "closed";
  }
  rtx_senders_.clear ();
  if (!webrtcbin_)
    return;
  GstElement *w = webrtcbin_.get ();
  g_signal_handlers_disconnect_matched (w, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr,
      (gpointer) on_ice_candidate, nullptr);
  g_signal_handlers_disconnect_matched (w, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr,
      (gpointer) on_connection_state, nullptr);
  g_signal_handlers_disconnect_matched (w, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr,
      (gpointer) on_gathering_done, nullptr);
  g_signal_handlers_disconnect_matched (w, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr,
      (gpointer) on_gathering_state, nullptr);
  stop_data_sends (GST_BIN (w));
  gst_element_set_locked_state (w, TRUE);
  gst_element_set_state (w, GST_STATE_NULL);
  stop_stragglers (w);
  gst_bin_remove (bin_.get (), w);
  webrtcbin_.reset ();
  GST_INFO ("session %s closed", id_.c_str ());
  const gint64 now = g_get_monotonic_time ();
  last_close_us = now;
  worker_->post_delayed (kTrimDelayMs, [now] { trim_after_close (now); });
  worker_->post_delayed (kSliceSweepDelayMs, [now] { sweep_slice_cache (now); });
}

void
stop_data_sends (GstBin *bin)
{
  for (GstElement *e : elements_inside (bin)) {
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "sctpenc") == 0)
      flush_sctpenc (e);
    gst_object_unref (e);
  }
}

void
stop_receiving (GstBin *bin)
{
  for (GstElement *e : elements_inside (bin)) {
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "nicesrc") == 0) {
      if (GstPad *src = gst_element_get_static_pad (e, "src")) {
        gst_pad_add_probe (src, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_BUFFER_LIST), [] (GstPad *, GstPadProbeInfo *, gpointer) {
          return GST_PAD_PROBE_DROP;
        }, nullptr, nullptr);
        gst_object_unref (src);
      }
    }
    gst_object_unref (e);
  }
}

std::string
session_of_message (GstBin *bin, GstMessage *msg)
{
  GstObject *obj = GST_MESSAGE_SRC (msg);
  if (!obj)
    return {};
  gst_object_ref (obj);
  // Walk up to the direct child of bin.
  while (true) {
    GstObject *parent = gst_object_get_parent (obj);
    if (!parent) {
      gst_object_unref (obj);
      return {};
    }
    if (parent == GST_OBJECT (bin)) {
      gst_object_unref (parent);
      break;
    }
    gst_object_unref (obj);
    obj = parent;
  }
  std::string id;
  gchar *name = gst_object_get_name (obj);
  if (name && g_str_has_prefix (name, "webrtc-") && GST_IS_BIN (obj))
    id = name + strlen ("webrtc-");
  g_free (name);
  gst_object_unref (obj);
  return id;
}

}  // namespace rtcstream
