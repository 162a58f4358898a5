// SPDX-License-Identifier: LGPL-2.1-or-later
//
// WebrtcSession: one remote peer. Owns its webrtcbin, runs offer/answer and
// trickle ICE through a signaller, and keeps the peer's stats. It knows
// webrtcbin and the signaller, never an element's pads.
//
// Threads: every method runs on the owner's Worker thread. webrtcbin's
// signals and promise replies arrive on webrtcbin's threads; they are
// bounced to the worker and look the session up again through a weak_ptr,
// because it may be gone by then.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtcstream/ref.h"
#include "rtcstream/signallers/ice-server.h"
#include "rtcstream/signaller.h"
#include "rtcstream/worker.h"

namespace rtcstream {

// The element's STUN/TURN settings for a session: its stun-server and
// turn-servers as IceServers (the one type, signallers/ice-server.h).
struct IceConfig {
  std::vector<IceServer> servers;  // the STUN server first, then the TURN servers
  bool relay_only = false;
  bool tcp = false;  // ICE over TCP candidates (ice-tcp)
};

struct SessionStats {
  std::string state = "new";   // new, connecting, connected, failed, closed
  std::string codecs;          // e.g. "VP8,OPUS"
  guint64 bytes_sent = 0;
  guint64 bytes_received = 0;
  guint64 packets_lost = 0;
  double rtt_ms = -1.0;        // -1 when not known yet
  // Sender side, from the peer's RTCP receiver reports: the highest
  // fraction lost of the last reports (0..1, -1 before any), and a value
  // that changes whenever a new report arrived (the sum of their extended
  // highest sequence numbers).
  double fraction_lost = -1.0;
  guint64 report_key = 0;
  // Sender side: the peer's newest REMB (its own estimate of what it can
  // receive, bit/s; 0 before any) and how many came.
  guint64 remb_bps = 0;
  guint64 remb_count = 0;
  // Types of the selected ICE candidate pair ("host", "srflx", "prflx",
  // "relay"); empty until a pair is selected.
  std::string local_candidate_type;
  std::string remote_candidate_type;
  // Its transport, "udp" or "tcp" (ICE-TCP: media over TCP, which repairs
  // loss itself, late); empty until a pair is selected.
  std::string candidate_protocol;
};

class WebrtcSession : public std::enable_shared_from_this<WebrtcSession> {
public:
  using Done = std::function<void (const std::string &error)>;  // empty error: success
  using StateChanged = std::function<void (GstWebRTCPeerConnectionState state)>;

  WebrtcSession (std::string id, std::string peer_id, std::shared_ptr<Worker> worker,
      RtcstreamSignaller *signaller, GstBin *bin);
  ~WebrtcSession ();

  const std::string &id () const { return id_; }
  const std::string &peer_id () const { return peer_id_; }
  GstElement *webrtcbin () const { return webrtcbin_.get (); }

  // Any thread, once per process is enough (later calls do nothing): starts
  // making in the background what a process's first session would otherwise
  // make on its way to the first frame (the DTLS certificate). Elements call
  // it when they start.
  static void prepare ();
  // Waits for that background work (at most the certificate's 75-500 ms).
  // Elements call it when they stop: a process must not exit under it.
  static void finish_preparing ();

  // Creates the webrtcbin inside bin (not yet synced to its state).
  // Returns an error sentence, or empty.
  std::string create (const IceConfig &ice, guint latency_ms, StateChanged on_state);
  // Brings the webrtcbin to its parent's state.
  void sync_state ();

  // The side that offers: create-offer, send, set-local-description. With a
  // signaller that has RTCSTREAM_SIGNALLER_FEATURE_ICE_SERVERS_IN_ANSWER
  // (WHIP/WHEP in trickle mode) the local description waits for the answer: ICE gathering starts
  // with it, and the STUN/TURN servers the endpoint announces with its
  // answer (Link headers) must be in place before gathering starts.
  void offer (Done done);
  // Both sides: set-remote-description; done once applied.
  void set_remote (GstWebRTCSessionDescription *desc, Done done);
  // Consumer side: create-answer, set-local-description, send. A receiver
  // answers as the DTLS server (dtls_server; sdp.h,
  // sdp_answer_as_dtls_server), so that the sender starts its media only
  // once both ends have their keys.
  void answer (Done done, bool dtls_server = false);
  void add_ice (guint mline, const std::string &candidate);

  // A copy of the negotiated answer (the caller frees it), or null before:
  // the peer's, applied by set_remote, or ours, made by answer.
  GstWebRTCSessionDescription *answer_description () const;

  // Asks webrtcbin for stats and refreshes the cached copy.
  void refresh_stats ();
  SessionStats stats () const;
  void set_codecs (const std::string &codecs);
  // Why the session failed when more is known than "ICE failed" (e.g. no
  // relay candidate from the TURN servers), as a sentence; empty otherwise.
  std::string failure () const;

  // Any thread: the peer was heard from (it sent RTCP).
  void heard_from_peer () { last_heard_us_ = g_get_monotonic_time (); }
  // RTCP thread: the peer sent a REMB of bps.
  void remb_received (guint64 bps);

  // Tears the webrtcbin down completely and removes it from the bin.
  void close ();
  bool closed () const { return closed_; }

private:
  static void on_connection_state (GstElement *webrtc, GParamSpec *pspec, gpointer data);
  void on_stats (const GstStructure *reply);
  static void on_gathering_state (GstElement *webrtc, GParamSpec *pspec, gpointer data);
  void check_relay_candidates ();
  // After the offer, before gathering: adds the STUN/TURN servers the
  // endpoint announced with its answer (the signaller's "ice-servers").
  void apply_announced_ice_servers ();
  void fail (const std::string &reason);
  // Once connected: fails the session when the peer sends no RTCP for
  // kSilenceLimitS (it vanished without a goodbye).
  void watch_silence ();
  static constexpr int kSilenceLimitS = 20;
  static constexpr guint kSilenceCheckMs = 2000;
  // Once connected and with every new round trip: bounds what webrtcbin
  // keeps for retransmissions to max(1 s, 3 round trips) (see session.cpp).
  void bound_retransmission_history ();

  std::string id_;
  std::string peer_id_;
  std::shared_ptr<Worker> worker_;
  Ref<RtcstreamSignaller> signaller_;
  Ref<GstBin> bin_;
  Ref<GstElement> webrtcbin_;
  StateChanged on_state_;
  bool closed_ = false;
  bool failed_ = false;                  // FAILED reported through on_state_
  bool silence_watched_ = false;         // watch_silence () started
  std::atomic<gint64> last_heard_us_{0}; // monotonic time of the peer's last RTCP
  bool rtx_history_found_ = false;       // rtx_senders_ looked up
  std::vector<Ref<GstElement>> rtx_senders_;  // webrtcbin's rtprtxsend(s)
  guint rtx_history_ms_ = 0;             // their max-size-time, 0: not set yet
  bool relay_only_ = false;
  std::vector<std::string> turn_names_;  // turn-servers without their passwords
  std::string turn_problem_;             // no relay candidate gathered
  // The signaller's ICE_SERVERS_IN_ANSWER feature, read once in create ().
  bool servers_in_answer_ = false;
  // The offer sent but not yet set locally (see offer()); owned.
  std::unique_ptr<GstWebRTCSessionDescription, void (*) (GstWebRTCSessionDescription *)>
      deferred_offer_{nullptr, gst_webrtc_session_description_free};
  // The answer of this session, whichever side made it (worker thread).
  std::unique_ptr<GstWebRTCSessionDescription, void (*) (GstWebRTCSessionDescription *)>
      answer_{nullptr, gst_webrtc_session_description_free};

  mutable std::mutex stats_lock_;
  SessionStats stats_;
  std::string failure_;  // guarded by stats_lock_
};

// Every element inside bin, at any depth (refs the caller drops).
std::vector<GstElement *> elements_inside (GstBin *bin);

// Any thread but a streaming thread of webrtcbin: makes the data channels'
// sends inside bin (a webrtcbin, or an element with all its sessions)
// return (FLUSH_START into every sctpenc). In GStreamer 1.22 sctpenc's chain
// waits while the SCTP send buffer is full (a peer that reads nothing, or is
// gone), and its PAUSED to READY does not wake it before deactivating its
// pads: the state change would wait forever. Called before a webrtcbin
// leaves PAUSED: by a session's close, and by the elements before they
// leave PAUSED (the bin takes its webrtcbins down before the sessions close).
void stop_data_sends (GstBin *bin);

// The worker, after webrtcbin went to NULL (WebrtcSession::close): sets to
// NULL every element inside it that still runs, and stops every sctpenc's
// task, which in GStreamer 1.22 may run in the NULL state too. Returns once
// those tasks are joined, even for an sctpenc whose queue a late RECONFIGURE
// unflushed.
void stop_stragglers (GstElement *webrtcbin);

// Any thread: from now on the network's packets are dropped as they come
// out of every nicesrc inside bin (the element, with all its sessions).
// Called before the element leaves PAUSED: in GStreamer 1.22 a packet that
// makes rtpbin ask webrtcbin for a payload type while webrtcbin changes
// state waits for webrtcbin's lock, which the state change, waiting for
// that streaming thread, never releases (a viewer stopped with Ctrl-C hung
// so, rarely: the doc suite's H264 watcher).
void stop_receiving (GstBin *bin);

// The id of the session whose webrtcbin (a direct child of bin) posted msg,
// from inside or itself; empty when msg comes from elsewhere. Elements use it
// to turn one peer's errors (an SCTP association the peer aborted, a transport
// that failed) into that session's end instead of the pipeline's.
std::string session_of_message (GstBin *bin, GstMessage *msg);

}  // namespace rtcstream
