// Package all registers every built-in step type. Import it for its side
// effect: `import _ "github.com/zdu-dev/zdu/steps/all"`.
package all

import (
	_ "github.com/zdu-dev/zdu/steps/analysis"
	_ "github.com/zdu-dev/zdu/steps/exec"
	_ "github.com/zdu-dev/zdu/steps/haproxysocket"
	_ "github.com/zdu-dev/zdu/steps/lbdrain"
	_ "github.com/zdu-dev/zdu/steps/rollbackon"
	_ "github.com/zdu-dev/zdu/steps/sleep"
	_ "github.com/zdu-dev/zdu/steps/wait"
)
