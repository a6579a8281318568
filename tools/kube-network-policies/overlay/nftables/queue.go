// Replaces expr/queue.go of github.com/google/nftables in the build of kube-network-policies
// (tools/kube-network-policies/build.sh): the same Queue type, written to the kernel as the xtables NFQUEUE
// target (revision 3) through nft_compat instead of nftables' own queue expression. Both hand the packet to
// the same nfnetlink queue; a kernel built without nft_queue (CONFIG_NFT_QUEUE) but with nft_compat and
// xt_NFQUEUE refuses the one and accepts the other.

package expr

import (
	"encoding/binary"

	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

type QueueAttribute uint16

type QueueFlag uint16

const (
	QueueNum   QueueAttribute = unix.NFTA_QUEUE_NUM
	QueueTotal QueueAttribute = unix.NFTA_QUEUE_TOTAL
	QueueFlags QueueAttribute = unix.NFTA_QUEUE_FLAGS

	// The same bits as xt_NFQUEUE's NFQ_FLAG_BYPASS and NFQ_FLAG_CPU_FANOUT.
	QueueFlagBypass QueueFlag = unix.NFT_QUEUE_FLAG_BYPASS
	QueueFlagFanout QueueFlag = unix.NFT_QUEUE_FLAG_CPU_FANOUT
	QueueFlagMask   QueueFlag = unix.NFT_QUEUE_FLAG_MASK
)

type Queue struct {
	Num   uint16
	Total uint16
	Flag  QueueFlag
}

// target is the NFQUEUE target that stands for the queue: struct xt_NFQ_info_v3 (queuenum, queues_total,
// flags, in the host's byte order), padded to the 8 bytes XT_ALIGN gives it.
func (e *Queue) target() *Target {
	total := e.Total
	if total == 0 {
		total = 1
	}
	info := make(xt.Unknown, 8)
	binary.NativeEndian.PutUint16(info[0:], e.Num)
	binary.NativeEndian.PutUint16(info[2:], total)
	binary.NativeEndian.PutUint16(info[4:], uint16(e.Flag))
	return &Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}

func (e *Queue) marshal(fam byte) ([]byte, error) {
	return e.target().marshal(fam)
}

func (e *Queue) marshalData(fam byte) ([]byte, error) {
	return e.target().marshalData(fam)
}

// The kernel lists the rule's expression as a target, which the package reads as a Target.
func (e *Queue) unmarshal(fam byte, data []byte) error {
	return nil
}
