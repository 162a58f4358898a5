// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's private state, shared by its files:
//   rtcstreamsink.cpp   the element: pads, properties, signals, start/stop,
//                       the signaller's callbacks, stats
//   sink-consumers.cpp  one consumer's session: offer, link, teardown
//   sink-encoding.cpp   encoder groups (one per input and codec) and the
//                       keyframe-request limiter
//   sink-channels.cpp   data channels: navigation in, application messages
//   sink-congestion.cpp each consumer's bandwidth estimate, and the encoder
//                       bitrate that follows it
//   sink-ladder.cpp     the encoding ladder: each viewer's rendition, and
//                       switching a viewer's branch from one to another
//
// Threads: see rtcstreamsink.cpp. Unless a function says otherwise it runs
// on the element's worker.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "element.h"
#include "rtcstream/abs-capture-time.h"
#include "rtcstream/bandwidth.h"
#include "rtcstream/codecs.h"
#include "rtcstream/datastream.h"
#include "rtcstream/ladder.h"
#include "rtcstream/playout-delay.h"
#include "rtcstream/probe.h"
#include "rtcstream/retransmission.h"
#include "rtcstream/scaling.h"
#include "rtcstream/sdp.h"
#include "rtcstream/session.h"
#include "rtcstreamsink.h"

GST_DEBUG_CATEGORY_EXTERN (rtcstream_sink_debug);
#define GST_CAT_DEFAULT rtcstream_sink_debug

namespace rtcstream::sink {

enum ConsumerSignal {
  SIGNAL_CONSUMER_ADDED,
  SIGNAL_CONSUMER_REMOVED,
  N_CONSUMER_SIGNALS,
};
extern guint consumer_signals[N_CONSUMER_SIGNALS];
extern guint message_signals[N_MESSAGE_SIGNALS];

// Encoded video input, or a group passing it through: its frames since the
// last keyframe (at most kMaxFrames and kMaxBytes; beyond that, none until
// the next keyframe). A group made for the input mid-stream, and a consumer
// joining the group, start with them: a picture at once rather than after a
// keyframe request went round the upstream producer's limiter (a relay, the
// server's WHEP players), or the next keyframe of an upstream that ignores
// requests (a camera's H.264).
class RecentFrames {
public:
  ~RecentFrames () { clear (); }
  void set_encoded (bool encoded);
  void add (GstBuffer *buf);  // streaming thread
  // The frames, retimed 100 us apart to end just before the live frame
  // live_pts, as new buffers (the caller owns them); none when there is
  // nothing to replay or the frames are reordered (B-frames).
  std::vector<GstBuffer *> replay_before (GstClockTime live_pts);

private:
  static constexpr size_t kMaxFrames = 150;
  static constexpr gsize kMaxBytes = 4 * 1024 * 1024;
  void clear ();
  std::mutex lock_;
  bool encoded_ = false;
  std::vector<GstBuffer *> frames_;  // refs; the first is a keyframe
  gsize bytes_ = 0;
};

struct InputStream {
  std::string name;         // video_0, audio_0
  MediaKind kind;
  std::shared_ptr<RecentFrames> recent = std::make_shared<RecentFrames> ();
  GstPad *ghost = nullptr;  // owned by the element
  GstElement *tee = nullptr;
  GstElement *prefer = nullptr;    // capsfilter before fakesink
  GstElement *fakesink = nullptr;
  GstCaps *caps = nullptr;  // last caps seen, guarded by the state lock
  bool eos = false;
  bool released = false;    // its pad is being released (guarded by the state lock)
};

// rtcstreamsink's data pads (sink-data.cpp).
struct DataSettings {
  bool ordered = true;
  gint max_retransmits = -1;      // -1: unlimited (reliable)
  gint max_packet_lifetime = -1;  // ms, -1: unlimited (reliable)
  guint stall_timeout_ms = 10000;
};

// Wakes the data pads' streaming threads waiting for room (links' signal
// handlers, flushes, stop). Its lock guards what DataInput says it does.
struct DataGate {
  std::mutex lock;
  std::condition_variable cv;
};

// One data_%u pad.
struct DataInput {
  ~DataInput ();
  std::string name;
  GstPad *pad = nullptr;  // owned by the element
  bool eos = false;       // guarded by the state lock
  // Guarded by the gate's lock:
  std::vector<std::shared_ptr<datastream::Link>> links;  // one per consumer
  bool flushing = true;   // stopped or flushing: the streaming thread does not wait
  bool fresh = false;     // partially reliable (from the settings at start)
  guint stall_timeout_ms = 0;
  std::string caps;       // serialized, empty: none
  guint caps_generation = 1;
  guint32 seq = 0;
};

struct EncoderGroup {
  InputStream *input = nullptr;
  const Codec *codec = nullptr;
  // Its rendition of the input's ladder (sink-ladder.cpp): 0 the full
  // picture; above, a picture of the rendition's size at its bitrate.
  size_t rendition = 0;
  Rendition size;  // rendition > 0: what it encodes
  bool encodes = false;              // false: passes encoded input through
  std::vector<GstElement *> elements; // in link order, last is the tee
  GstElement *encoder = nullptr;     // one of elements, when it encodes
  GstElement *tee = nullptr;
  GstPad *input_tee_pad = nullptr;   // request pad on input->tee
  int consumers = 0;
  // Consumers still negotiating that started it early (Consumer::reserved):
  // it stays while they may need it, without counting as their encoder yet.
  int reserved = 0;
  // A prepared encoder (prepare-encoder): made before any consumer wanted
  // it, it gets its input's stream but none of its pictures (this probe on
  // input_tee_pad drops them) until a consumer links to it (use_group).
  // Worker-only; 0 once used.
  gulong spare_probe = 0;
  std::atomic<gint64> last_keyframe_request{0};
  std::atomic<bool> trailing_request{false};  // a merged request is to be resent
  // Video: when the oldest keyframe request not yet answered by a keyframe
  // went upstream (0: none), and whether a check that asks again is due.
  std::atomic<gint64> keyframe_wanted_since{0};
  std::atomic<bool> keyframe_retry_due{false};
  std::atomic<guint> keyframe_bits{0};        // size of the last keyframe (video)
  std::atomic<guint64> encoded_bytes{0};      // what the encoder put out (video)
  std::atomic<guint64> encoded_frames{0};
  // Video encoding groups: the capsfilter before the encoder, where the
  // picture size is set, and (worker-only) the size policy and the bytes
  // counted at its last update.
  GstElement *raw_filter = nullptr;
  std::unique_ptr<EncoderScaler> scaler;
  double input_fps = 0;
  // The scaler's frame rate step: the encoder gets 1 in frame_divisor of
  // its input's frames (thin_frame_rate, the encoder's streaming thread,
  // which alone uses next_frame_pts); and what the encoder is given, for
  // stats (0 while the scaler does not run).
  std::atomic<int> frame_divisor{1};
  GstClockTime next_frame_pts = GST_CLOCK_TIME_NONE;
  std::atomic<int> picture_width{0}, picture_height{0};
  std::atomic<double> picture_fps{0};
  guint64 scaler_bytes = 0, scaler_frames = 0;
  gint64 scaler_tick_us = 0;
  bool scaler_settling = false;  // the scaler changed at the last tick
  guint scaler_target_bps = 0;   // the encoder's bitrate at the last tick
  std::string needs_key;         // its entry in State::picture_needs
  // The estimate of the consumer of a group that adapts to it alone (0:
  // none), which keyframes may not crowd out (sink-encoding.cpp).
  std::atomic<guint> keyframe_budget_bps{0};
  // Encoded video passed through: its frames since the last keyframe, with
  // which a consumer's branch starts (replay_recent_frames).
  std::shared_ptr<RecentFrames> recent;
  RtcstreamSink *owner = nullptr;
};

struct RenditionSwitch;

struct Branch {
  EncoderGroup *group = nullptr;
  GstElement *queue = nullptr;
  GstElement *payloader = nullptr;
  GstPad *group_tee_pad = nullptr;
  // Raw video shared with other viewers: the rendition its estimate allows
  // (worker-only), and the switch to another one under way, if any.
  std::unique_ptr<RenditionChooser> chooser;
  std::shared_ptr<RenditionSwitch> switching;
  guint switches = 0;  // renditions switched to (for stats)
};

// The bitrate properties (guarded by the state lock).
struct BitrateSettings {
  bool congestion_control = true;
  bool probing = false;  // bandwidth-probing
  guint min_bps = 100000;
  guint start_bps = 1000000;
  guint max_bps = 2000000;
};

// The playout-delay properties (guarded by the state lock): what video
// consumers that negotiate the playout-delay RTP header extension are asked
// for, in ms; -1 in either leaves the extension out.
struct PlayoutDelaySettings {
  gint min_ms = 0;
  gint max_ms = 0;
  bool enabled () const { return min_ms >= 0 && max_ms >= 0; }
};

// One consumer's congestion control (sink-congestion.cpp). Shared with the
// probe that feeds it TWCC feedback on a streaming thread.
struct Congestion {
  Congestion () { g_weak_ref_init (&rtx_src, nullptr); }
  ~Congestion () { g_weak_ref_clear (&rtx_src); }
  Congestion (const Congestion &) = delete;
  Congestion &operator= (const Congestion &) = delete;
  // Which of the consumer's retransmission requests are answered: probes
  // on its webrtcbin's rtprtxsend (streaming threads and the RTCP thread)
  // use it under its own lock, which they hold alone (others take it last:
  // after Congestion::lock when they hold both).
  struct Retransmissions {
    std::mutex lock;
    RetransmissionBudget budget;
  } rtx;
  bool rtx_watched = false;  // probes on rtprtxsend in place (worker-only)
  // Upward probing (rtcstream/probe.h), worker-only: the rtprtxsend src pad
  // that probe clusters' retransmission requests are sent onto (a weak ref:
  // the pad's own probes hold this object), and the cluster being sent (its
  // requests paced on the worker).
  GWeakRef rtx_src;
  struct ProbeSend {
    unsigned id = 0;
    std::vector<RetransmissionBudget::Packet> packets;  // copied in turn
    uint32_t padding_bps = 0;
    gint64 start_us = 0, last_us = 0;  // the first and the last request sent
    guint64 max_bytes = 0, bytes = 0;
    unsigned sent = 0;
  };
  std::unique_ptr<ProbeSend> probe_send;
  std::mutex lock;  // guards everything below
  BandwidthEstimator estimator;
  BandwidthProbe probe;
  guint audio_bps = 0;         // what its audio encoders send, left out of the video's share
  guint target_bps = 0;        // its video encoder's bitrate, set by us (0: not adapting)
  guint sent_bps = 0;          // sent over the last second (bytes-sent)
  guint64 last_bytes_sent = 0;
  gint64 last_tick_us = 0;
  guint64 report_key = 0;      // the receiver report last given to the estimator
  guint64 remb_count = 0;      // the REMBs given to it so far
  guint64 unmatched = 0;       // TWCC-reported packets rtpsession no longer knew
  gint64 last_post_us = 0;     // when the probe last asked the worker to apply
  guint posted_bps = 0;        // the estimate it asked with
  guint tick_delay_based = 0;  // the delay-based rate at the last tick (worker)
  // Pre-encoded (passed-through) video, which cannot follow the estimate:
  // what it sends (the groups' bytes at the last tick), how many ticks in a
  // row it needed more than the estimate leaves it and whether the link
  // showed congestion meanwhile, whether the link is too thin for it now,
  // and whether the one bus warning for this consumer went out.
  guint64 passthrough_bytes = 0;
  gint64 passthrough_tick_us = 0;
  guint passthrough_bps = 0;
  int thin_ticks = 0;
  bool thin_congested = false;
  bool too_thin = false;
  bool thin_warned = false;
};

struct Consumer {
  std::shared_ptr<WebrtcSession> session;
  // webrtcbin sink pads per input; the input is null once released
  std::vector<std::pair<InputStream *, GstPad *>> pads;
  std::vector<Branch> branches;
  std::vector<std::string> offered;  // codec lists offered (or answerable), per pad, for messages
  // SSRC per input, announced in the offer (a=ssrc) and used by the
  // payloader: an SFU such as Janus routes by the SSRCs of the offer.
  std::vector<guint> ssrcs;
  // The groups of the codecs we offered first, started with the offer so
  // that their encoders are warm when the answer comes (worker-only); given
  // back once the answer is linked or the consumer goes.
  std::vector<EncoderGroup *> reserved;
  PlayoutDelaySettings playout_delay;  // the element's, when the consumer came
  // The playout delay it was asked for ("MIN,MAX" in ms), empty when the
  // extension was not negotiated (for stats).
  std::string playout_delay_sent;
  bool linked = false;
  bool announced = false;  // consumer-added was emitted
  std::shared_ptr<Congestion> congestion;  // once linked
};

// A consumer's request for a session: with the consumer's offer when it
// offers (a WHEP player behind rtcstream-signalling), else we offer.
struct SessionRequest {
  std::string id;
  std::string peer;
  std::shared_ptr<GstWebRTCSessionDescription> offer;  // may be null
};

// lock (ElementCore) also guards the inputs' caps, the consumer stats view
// and counters.
struct State : ElementCore {
  // Worker-only state (also read with lock held for stats).
  std::vector<std::unique_ptr<InputStream>> inputs;
  std::map<std::string, std::shared_ptr<Consumer>> consumers;
  std::vector<std::unique_ptr<EncoderGroup>> groups;
  // What each picture size of an input needed, as the last encoder group
  // that adapted to one viewer learnt it (EncoderScaler::needs), keyed by
  // EncoderGroup::needs_key (input, codec, input size and frame rate): the
  // next viewer's encoder starts from it (start_scaler). Worker-only.
  struct LearntNeeds {
    std::vector<double> bps;
    gint64 at_us = 0;
  };
  std::map<std::string, LearntNeeds> picture_needs;
  std::vector<SessionRequest> pending;  // sessions waiting for caps
  guint video_pads = 0, audio_pads = 0, data_pads = 0;
  std::vector<std::unique_ptr<DataInput>> data_inputs;  // guarded by lock
  std::shared_ptr<DataGate> data_gate = std::make_shared<DataGate> ();
  DataSettings data;  // guarded by lock
  bool eos_posted = false;
  bool data_channel = false;  // guarded by lock
  BitrateSettings bitrates;   // guarded by lock
  bool prepare_encoder = true;   // guarded by lock
  bool stopping = false;        // worker-only: no encoder is prepared while set
  PlayoutDelaySettings playout_delay;  // guarded by lock
  // video-ladder (guarded by lock): its text, and its rungs.
  std::string ladder_spec;
  std::vector<LadderRung> ladder = {{1, 0}, {2, 0}, {4, 0}};
};

// --- sink-encoding.cpp -----------------------------------------------------------

GstElement *make_element (const char *factory, const std::string &name);
// Stops elements and removes them from bin (on the worker, or on the
// application thread for a released pad).
void remove_elements (GstBin *bin, const std::vector<GstElement *> &elements);
// Asks upstream of a sink pad for a keyframe.
void request_keyframe (GstPad *pad);
// The codecs input can be sent in: its own when it is encoded, else those
// of the settings we can encode, in their order.
std::vector<const Codec *> candidate_codecs (const CommonSettings &s, const InputStream &in,
    GstCaps *caps);
// Any thread: the first frame through pad (to a new group or branch of
// encoded video), if it is not a keyframe, comes after recent's frames.
void replay_recent_frames (GstPad *pad, const std::shared_ptr<RecentFrames> &recent);
// Any thread: replay_recent_frames on pad whenever a keyframe request (a
// consumer's PLI) goes up through it: a consumer that lost the first
// replay, or a keyframe later, gets one without waiting for upstream.
void replay_on_keyframe_requests (GstPad *pad, const std::shared_ptr<RecentFrames> &recent);
// The group encoding input in codec, made on first use; null with error
// filled when it cannot be made. A group made with prepared set is a
// prepared encoder (EncoderGroup::spare_probe) from before its first frame.
EncoderGroup *get_group (RtcstreamSink *self, InputStream *in, const Codec *codec,
    std::string &error, size_t rendition = 0, const Rendition *size = nullptr,
    bool prepared = false);
// Asks group's encoder for a keyframe (through the limiter).
void ask_group_keyframe (EncoderGroup *group);
// Removes group once no consumer uses it (a prepared encoder stays), then
// prepares the encoders that are missing.
void release_group_if_unused (RtcstreamSink *self, EncoderGroup *group);
// A consumer's branch was linked to group and asked it for a keyframe, or
// a consumer switches to it: a prepared encoder starts encoding its input,
// that keyframe first.
void use_group (EncoderGroup *group);
// With prepare-encoder on and the element started, makes a prepared
// encoder for each raw video input with caps that has no group of its first
// codec at the full picture.
void prepare_encoders (RtcstreamSink *self);
// Removes the prepared encoders (of input, or all with nullptr).
void drop_prepared_encoders (RtcstreamSink *self, InputStream *input);
// Gives back a consumer's reserved groups, removing those nobody uses.
void unreserve_groups (RtcstreamSink *self, Consumer &c);

// --- sink-consumers.cpp ----------------------------------------------------------

// Any thread: a warning on the bus about one consumer.
void warn_consumer (RtcstreamSink *self, const std::string &peer, const std::string &msg);
// A consumer asked for a session: offer it every input, or answer its offer
// with the inputs it asks for (or wait until every input has caps).
void start_consumer (RtcstreamSink *self, const SessionRequest &request);
// Starts the sessions that waited for every input to have caps.
void process_pending (RtcstreamSink *self);
// The answer is applied (ours, or the consumer's to our offer): link each
// input to the codec chosen.
void link_consumer (RtcstreamSink *self, const std::string &session_id);
// An input is being released: its branches leave every consumer and its
// encoder groups go.
void drop_input_from_consumers (RtcstreamSink *self, InputStream *in);
// Unlinks and removes one consumer completely.
void remove_consumer (RtcstreamSink *self, const std::string &session_id, bool tell_signaller);

// --- sink-congestion.cpp ---------------------------------------------------------

// The consumer is linked: start estimating its bandwidth from its feedback.
void watch_congestion (RtcstreamSink *self, const std::string &session_id, Consumer &c);
// Every second: receiver reports and the sent bitrate into the estimate,
// and each consumer's encoder to its estimate.
void update_congestion (RtcstreamSink *self);
// The encoder's video bitrate for a new group (start-bitrate or max-bitrate).
guint initial_video_bitrate (const BitrateSettings &b);
// Fields of a consumer's stats (state lock held).
void add_congestion_stats (GstStructure *s, const Consumer &c);

// --- sink-ladder.cpp -------------------------------------------------------------

// The renditions of a raw video input (state lock not held); empty when its
// size is unknown.
std::vector<Rendition> input_ladder (RtcstreamSink *self, InputStream *in);
// How many linked consumers receive in's video in codec, over every rendition.
int viewers_of (RtcstreamSink *self, InputStream *in, const Codec *codec);
// Every second, before the bitrates: each raw video branch of a consumer
// to the rendition its estimate allows (the full one while it is the only
// viewer). share_bps and capacity_share_bps are a video branch's share of
// the estimate and of where its link was last congested (0: unknown);
// congested: the link showed congestion since the last tick.
void update_renditions (RtcstreamSink *self, const std::string &session_id, Consumer &c,
    guint share_bps, bool congested, guint capacity_share_bps, gint64 now);
// Ends the branch's switch under way, if any: the branch keeps the new
// rendition when its keyframe already went through, else the old one.
void settle_switch (RtcstreamSink *self, Branch &b);
// Fields of a consumer's stats (state lock held): its video's rendition.
void add_rendition_stats (GstStructure *s, const Consumer &c);

// --- sink-data.cpp ---------------------------------------------------------------

// Application thread: a data_%u pad (null when the name is taken).
GstPad *request_data_pad (RtcstreamSink *self, GstPadTemplate *templ, const gchar *name);
// Application thread: false when pad is not a data pad.
bool release_data_pad (RtcstreamSink *self, GstPad *pad);
// A channel per data pad on a new consumer's webrtcbin (before the offer).
void open_data_channels (RtcstreamSink *self, const std::string &session_id,
    GstElement *webrtc);
// The answer is applied: a consumer that declined data channels (no or a
// rejected m=application) is told about on the bus and loses its links.
void check_data_answer (RtcstreamSink *self, const std::string &session_id,
    const GstWebRTCSessionDescription *answer);
// The consumer's links go (before its webrtcbin).
void remove_data_links (RtcstreamSink *self, const std::string &session_id);
// Fields of a consumer's stats (state lock held): data-streams-open, the
// data pads whose channel to it is open and listened to, and
// data-bytes-sent.
void add_data_stats (RtcstreamSink *self, GstStructure *s, const std::string &session_id);
// Application thread: stop (true) or start (false) the data pads' flow.
void set_data_flushing (RtcstreamSink *self, bool flushing);

// --- rtcstreamsink.cpp -----------------------------------------------------------

// Any thread: an input (media or data) has ended; once all have, the
// sessions end and the element posts EOS.
void input_ended (RtcstreamSink *self);

// --- sink-channels.cpp -----------------------------------------------------------

// The channels this element opens on a new session (unless create is false),
// and any the consumer opens.
void open_channels (RtcstreamSink *self, const std::string &session_id, GstElement *webrtc,
    bool create);
// The consumer of a session, empty when it is gone.
std::string peer_of (RtcstreamSink *self, const std::string &session_id);
// Instance init: handlers emitting the message signals and taking navigation.
DataChannels::Handlers channel_handlers (RtcstreamSink *self);
// Action signals send-text / send-binary (any thread).
guint send_text_action (RtcstreamSink *self, const gchar *peer, const gchar *text);
guint send_binary_action (RtcstreamSink *self, const gchar *peer, GBytes *bytes);

}  // namespace rtcstream::sink

struct _RtcstreamSink {
  GstBin parent;
  rtcstream::sink::State *state;
};
