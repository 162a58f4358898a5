// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsrc's private state, shared by its files:
//   rtcstreamsrc.cpp   the element: properties, signals, start/stop, the
//                      signaller's callbacks, negotiation, the end of a session
//   src-outputs.cpp    its pads: one per media, exposed before the answer so
//                      that downstream chooses decoded or encoded output and
//                      the codec; the chain behind each; how each one ends
//
// Threads: see rtcstreamsrc.cpp. Unless a function says otherwise it runs
// on the element's worker.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "element.h"
#include "rtcstream/codecs.h"
#include "rtcstream/datastream.h"
#include "rtcstream/playout-delay.h"
#include "rtcstream/playout-target.h"
#include "rtcstream/sdp.h"
#include "rtcstream/session.h"
#include "rtcstreamsrc.h"

GST_DEBUG_CATEGORY_EXTERN (rtcstream_src_debug);
#define GST_CAT_DEFAULT rtcstream_src_debug

namespace rtcstream::src {

// What an output's pad functions (streaming threads) and the worker share.
struct OutputFlow {
  // Downstream returned EOS (a sink's num-buffers, a muxer that has enough),
  // or the pad got EOS without ever carrying media: nothing more goes out.
  std::atomic<bool> done{false};
  // Video: how long before it went out the last frame was captured at the
  // producer (its abs-capture-time, on this host's wall clock), in us; -1
  // when no frame carried a capture time.
  std::atomic<gint64> capture_age_us{-1};
  // Encoded output: its codec once known (the answer chose it), before its
  // chain exists; the pad answers caps queries with it (codecs.h,
  // codec_known_event).
  std::atomic<const Codec *> announced{nullptr};
};

// One pad of the element: one audio or video media of the session.
struct Output {
  guint mline = 0;
  MediaKind kind = MediaKind::Video;
  GstPad *ghost = nullptr;            // owned by the element
  bool encoded = false;               // downstream takes encoded caps, not raw
  std::vector<const Codec *> codecs;  // what it may be received in, preferred first
  const Codec *codec = nullptr;       // what webrtcbin's pad carries, once there
  guint ssrc = 0;                     // the producer's SSRC for it (0: not known)
  std::vector<GstElement *> chain;    // depayloader first; empty until then
  std::shared_ptr<OutputFlow> flow;
};

// One data_%u pad (src-data.cpp): a data stream of the producer's.
struct DataOutput {
  ~DataOutput ();
  std::string name;
  guint index = 0;
  bool fresh = false;                       // partially reliable
  GstWebRTCDataChannel *channel = nullptr;  // owned
  GstElement *appsrc = nullptr;             // owned; a child of the element
  GstPad *ghost = nullptr;                  // owned by the element
  std::vector<gulong> handlers;             // on channel
  datastream::Reassembler reassembler;      // the channel's thread
  guint64 consumed = 0, acked = 0;          // the appsrc's thread
  std::atomic<guint64> received{0};
  std::atomic<bool> got_data{false};   // a buffer or the end arrived
  std::atomic<bool> eos{false};     // EOS given to the appsrc
  std::atomic<bool> ended{false};   // EOS went downstream
  std::atomic<bool> warned{false};  // a bad message was reported
  // The pad was added (and so linked, by whoever links in pad-added): until
  // then the appsrc's thread waits before its first push, which would
  // otherwise find the pad unlinked and be dropped.
  std::mutex exposed_lock;
  std::condition_variable exposed_cond;
  bool exposed = false;  // guarded by exposed_lock
  void expose ();
};

// Where the element's one session is in its negotiation (worker thread).
// The only transitions (set_phase, rtcstreamsrc.cpp, refuses others):
//   Waiting -> Joined                the signaller made the session
//   Joined -> Offering -> Streaming  WHEP: we offer, the answer is applied
//   Joined -> Answering -> Streaming the producer offers, we answer
//   Streaming -> Answering           the producer offers again (renegotiation)
//   any -> Ended                     the producer ended it, we left, or it failed
//   Ended -> Waiting                 the element starts again
enum class Phase {
  Waiting,    // started, no session yet: the signaller looks for the producer
  Joined,     // the session exists; no offer yet either way
  Offering,   // our offer is out (WHEP); waiting for the answer
  Answering,  // the producer's offer is being applied and answered
  Streaming,  // negotiated
  Ended,      // over; only a new start leaves it
};
const char *phase_name (Phase phase);

// Below this jitterbuffer latency NACK is off. A retransmission could not
// arrive in time anyway, and with NACK the jitterbuffer waits for each
// packet only until its expected time plus latency: with latency=0 every
// packet a fraction of a millisecond late was declared lost, and the
// depayloader then dropped video until the next keyframe (20 frames in 8 s).
constexpr guint kNackMinLatencyMs = 10;

// What `stats` tells of the playout delay.
struct PlayoutStats {
  guint latency_ms;   // the jitterbuffers' latency now
  bool adaptive;
  guint delay_ms;     // the largest packet delay of the last 2 s
  guint in_order_delay_ms;  // the 95th percentile of the in-order packets'
  bool nack;          // whether the jitterbuffers ask for retransmissions
  guint64 packets_late;  // packets the jitterbuffers dropped as too late
};

// The playout delay of one session (src-playout.cpp): its jitterbuffers,
// what their packets measure, and the latency applied to them. Shared by
// the element (worker) and the probes on the jitterbuffers (streaming
// threads); lock guards what it says.
struct Playout {
  Playout (bool adaptive, guint latency_ms, guint min_ms, guint max_ms, bool nack_allowed);
  ~Playout ();
  // Worker: a Playout for the webrtcbin (not yet playing), its latency set
  // (the fixed one, or min_ms to begin with); on_rise is called, from a
  // streaming thread, when the target must rise now (it should post apply
  // to the worker).
  static std::shared_ptr<Playout> attach (GstElement *webrtcbin, bool adaptive,
      guint latency_ms, guint min_ms, guint max_ms, bool nack_allowed,
      std::function<void ()> on_rise);
  // Worker, every second: reads the jitterbuffers' counters, then applies.
  void tick ();
  // Worker: sets the target as the session's latency when it changed.
  void apply ();
  PlayoutStats stats ();
  // With lock held: refs to the jitterbuffers still alive (the caller
  // unrefs them, after letting go of lock).
  std::vector<GstElement *> live_jitterbuffers ();

  const bool adaptive;
  const bool nack_allowed;  // NACK was negotiated
  std::function<void ()> on_rise;
  std::atomic<bool> rise_pending{false};

  std::mutex lock;
  PlayoutTarget target;                              // guarded by lock
  std::vector<std::unique_ptr<GWeakRef>> jitterbuffers;  // guarded by lock
  guint applied_ms;                                  // guarded by lock
  bool nack;                                         // guarded by lock
  guint64 packets_late = 0;                          // guarded by lock
};

// The latency property's value that means adaptive.
constexpr gint kAdaptiveLatency = -1;

// lock (ElementCore) also guards the properties below and outputs.
struct State : ElementCore {
  gint latency_ms = kAdaptiveLatency;
  guint min_latency_ms = 0;
  guint max_latency_ms = 0;
  gint producer_timeout_ms = 0;

  // The session's playout delay (worker thread; made with the session).
  std::shared_ptr<Playout> playout;

  std::shared_ptr<WebrtcSession> session;  // worker thread
  std::vector<Output> outputs;             // guarded by lock
  std::vector<std::shared_ptr<DataOutput>> data_outputs;  // guarded by lock
  guint data_pads = 0;                     // guarded by lock
  Phase phase = Phase::Ended;              // worker thread
  // The id the producer's offer gives transport-wide congestion control
  // feedback (0: none), guarded by lock: written on the worker before the
  // offer is applied, read by on_new_transceiver on webrtcbin's thread.
  guint offer_twcc_id = 0;
  // The same for the playout-delay extension (its video depayloaders read
  // what the producer asks for).
  guint offer_playout_delay_id = 0;
  guint offer_capture_time_id = 0;  // abs-capture-time (rtcstream/abs-capture-time.h)
};

// A media to expose a pad for: its m-line and kind, and the codecs the
// producer offers in it (null when we make the offer).
struct MediaSlot {
  guint mline;
  MediaKind kind;
  const std::vector<const Codec *> *offered;
};

// Worker. Exposes a pad per media (gst-launch and applications link it in
// pad-added), asks what the linked downstream takes, and from that and
// video-codecs / audio-codecs sets each output's codecs; then emits
// no-more-pads. Returns an error sentence when some pad can get no codec.
std::string expose_outputs (RtcstreamSrc *self, const std::vector<MediaSlot> &media);

// Any thread: the codecs of the output of mline as codec-preferences caps
// (with our payload types and feedback when with_pt, for an offer; loose,
// to match an offer, otherwise); null when no output has that m-line.
GstCaps *output_preferences (RtcstreamSrc *self, guint mline, bool with_pt);

// webrtcbin's thread (pad-added): builds the output's chain, depayloader
// [! parser | ! decoder], and targets its pad at it.
void on_webrtc_pad (GstElement *webrtc, GstPad *pad, gpointer user);

// Worker, after the session closed (no streaming thread of webrtcbin left):
// EOS on every pad, through its chain so that a decoder drains.
void finish_outputs (RtcstreamSrc *self);
// Worker: EOS on the pads of the media an answer to our offer does not send.
void finish_unsent_outputs (RtcstreamSrc *self, const GstWebRTCSessionDescription *answer);
// Worker, once the session's answer is applied (ours or the endpoint's):
// each encoded pad without media yet announces the codec it chose.
void announce_output_codecs (RtcstreamSrc *self, const GstWebRTCSessionDescription *answer);
// Whether the producer sends the media of some pad with this SSRC.
bool media_ssrc (RtcstreamSrc *self, guint ssrc);
// Whether some pad carried media; whether every linked pad is done.
bool any_media (RtcstreamSrc *self);
bool linked_outputs_done (RtcstreamSrc *self);
// Application thread, at stop: removes the pads and their chains.
void remove_outputs (RtcstreamSrc *self);

// --- src-data.cpp ---------------------------------------------------------------

// webrtcbin's thread (on-data-channel): a channel of the producer's that
// carries a data stream gets a pad; false for other channels.
bool claim_data_channel (RtcstreamSrc *self, GstWebRTCDataChannel *channel);
// Worker, before the session closes: nothing more is pushed.
void close_data_channels (RtcstreamSrc *self);
// Worker: EOS on every data pad that has not had it (after what is queued).
void finish_data_outputs (RtcstreamSrc *self);
// Whether some data pad carried a buffer or its end (EOS).
bool any_data (RtcstreamSrc *self);
// Whether every linked data pad sent EOS downstream; any is set when one is
// linked.
bool data_outputs_done (RtcstreamSrc *self, bool &any);
// Application thread, at stop.
void remove_data_outputs (RtcstreamSrc *self);
// stats fields: data-streams, data-bytes-received, data-buffers-incomplete.
void add_data_stats (RtcstreamSrc *self, GstStructure *s);

// Any thread (rtcstreamsrc.cpp): downstream of a pad is done; the element
// leaves the session once every linked pad is.
void downstream_done (RtcstreamSrc *self);

}  // namespace rtcstream::src

struct _RtcstreamSrc {
  GstBin parent;
  rtcstream::src::State *state;
};
