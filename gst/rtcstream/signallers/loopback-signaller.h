// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamLoopbackSignaller: pairs elements of one process without any
// server, for tests (gst-plugins-rs has the same idea in its
// tests/direct_signaller). A producer (rtcstreamsink) and any number of
// consumers (rtcstreamsrc) whose stream-name is the same "link" find each
// other in a process-wide registry; media still goes through real webrtcbins
// (ICE on the host's interfaces, DTLS-SRTP), only the signalling is in memory.
//
//   - A consumer joins the producer of its link once both are started, in
//     either order (a consumer started first waits, up to producer-timeout):
//     the producer emits session-requested (NULL offer).
//   - The producer's offer makes the consumer emit session-started, then
//     session-description; the consumer's answer comes back to the producer
//     as session-description; candidates cross as handle-ice.
//   - end_session on one side emits session-ended on the other. A producer
//     that stops ends its consumers' sessions (they see session-ended, as
//     with the websocket signaller when a producer leaves); a consumer that
//     stops ends its session on the producer.
//   - A second producer on a link fails with NAME_TAKEN.
//
// Elements get it with uri=loopback://LINK (both in the same process).
//
// Threads: each instance emits on its own worker only; what one side sends
// is posted to the other side's worker and emitted there.
#pragma once

#include "rtcstream/signallers/base-signaller.h"

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_LOOPBACK_SIGNALLER (rtcstream_loopback_signaller_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamLoopbackSignaller, rtcstream_loopback_signaller, RTCSTREAM,
    LOOPBACK_SIGNALLER, RtcstreamBaseSignaller)

/* A signaller of role on the link named link (its stream-name; NULL or ""
 * is the link "default"). */
RtcstreamLoopbackSignaller *rtcstream_loopback_signaller_new (RtcstreamRole role,
    const gchar *link);

/* True when uri has the loopback scheme (loopback://...). */
gboolean rtcstream_loopback_uri_is_loopback (const gchar *uri);

/* Checks a loopback://LINK URI (LINK percent-decoded, not empty, no '/').
 * Returns FALSE and sets error (a sentence) when it is unusable; *link
 * (optional) receives the link name. */
gboolean rtcstream_loopback_uri_parse (const gchar *uri, gchar **link, GError **error);

/* Of the base's shared settings it uses producer-timeout (consumer: how
 * long to wait for the link's producer before NOT_FOUND). */

G_END_DECLS
