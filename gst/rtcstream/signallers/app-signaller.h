// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamAppSignaller: a signaller driven by the application instead of a
// server connection, for the side that *answers* a remote offer it got some
// other way: an HTTP endpoint of the application's (rtcstream-signalling's
// WHIP and WHEP endpoints are built on it), a test pairing two elements, a
// message bus. The application hands it the remote peer's offer and
// candidates; the element answers; once ICE gathering is done the signaller
// emits "answer" with the complete answer, every local candidate in it, as
// an HTTP endpoint must return it (RFC 9725: the server cannot trickle).
//
//   producer role (rtcstreamsink): offer() emits session-requested with the
//       offer, and the sink answers it (a WHEP player watching the stream);
//   consumer role (rtcstreamsrc): offer() emits session-started, then
//       session-description with the offer (a WHIP client publishing to us).
//
// Threads: the functions below may be called from any thread; like every
// signaller's, its signals are emitted on its own worker thread.
#pragma once

#include "rtcstream/signallers/base-signaller.h"

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_APP_SIGNALLER (rtcstream_app_signaller_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamAppSignaller, rtcstream_app_signaller, RTCSTREAM,
    APP_SIGNALLER, RtcstreamBaseSignaller)

RtcstreamAppSignaller *rtcstream_app_signaller_new (RtcstreamRole role);

/* The remote peer's offer opens session_id (once the signaller is started). */
void rtcstream_app_signaller_offer (RtcstreamAppSignaller *self, const gchar *session_id,
    const gchar *peer_id, const GstWebRTCSessionDescription *offer);
/* A candidate of the remote peer ("candidate:..." attribute text); kept
 * until the element has answered, then handed over in order. */
void rtcstream_app_signaller_add_remote_ice (RtcstreamAppSignaller *self,
    const gchar *session_id, guint mline, const gchar *candidate);
/* The remote peer ended the session. */
void rtcstream_app_signaller_end (RtcstreamAppSignaller *self, const gchar *session_id);

/* Signals:
 *  "answer" (gchar *session_id, gchar *sdp): the element's answer with its
 *      local candidates, once gathering completed or gather-timeout passed
 *  "ended" (gchar *session_id): the element ended the session (it failed,
 *      was torn down, or its stream ended; the bus says why)
 * Properties: "media-only" (construct-only: no data channels), "gather-timeout".
 */

G_END_DECLS
