package replfs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, for each of our packages, the packages of ours it may
// import (DEVELOPERS.md; style.md 2.1). Edges point down the table;
// only cmd/replfs wires everything.
var allowed = map[string][]string{
	"replfs/accept":                       {},
	"replfs/venti":                        {"replfs/accept"},
	"replfs/venti/ventitest":              {"replfs/venti"},
	"replfs/venti/arena":                  {"replfs/venti"},
	"replfs/venti/bucket":                 {"replfs/venti", "replfs/venti/arena"},
	"replfs/venti/bucket/buckettest":      {},
	"replfs/fossil":                       {"replfs/venti"},
	"replfs/fossil/fossiltest":            {},
	"replfs/fossil/fossiltest/fakefossil": {},
	"replfs/rootscor":                     {"replfs/venti"},
	"replfs/ctl":                          {"replfs/venti"},
	"replfs/peer":                         {"replfs/venti"},
	"replfs/jobs":                         {"replfs/venti", "replfs/venti/arena", "replfs/venti/bucket", "replfs/fossil", "replfs/rootscor", "replfs/ctl", "replfs/peer"},
	"replfs/fs":                           {"replfs/ctl", "replfs/accept"},
	"replfs/web":                          {},
	"replfs/cmd/replfs":                   {"*"},
	"replfs/test":                         {"*"},
	"replfs/bench/ventiprog":              {"*"},
	"replfs/bench/copy":                   {"*"},
	"replfs/bench/longlink":               {"*"},
	"replfs/bench/tls":                    {"*"},
	"replfs/bench/s3":                     {"*"},
	"replfs/bench/ventiopen":              {"*"},
}

// testOnly are packages tests may import on top of the table.
var testOnly = []string{"replfs/venti/ventitest", "replfs/venti/arena", "replfs/venti/bucket/buckettest", "replfs/fossil/fossiltest"}

func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`,
		"./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		pkg, imports, testImports := f[0], strings.Fields(f[1]), strings.Fields(f[2])
		if pkg == "replfs" {
			continue // this test
		}
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("package %s is not in the dependency table", pkg)
			continue
		}
		check := func(imp string, test bool) {
			if !strings.HasPrefix(imp, "replfs/") || imp == pkg {
				return
			}
			for _, a := range ok {
				if a == "*" || a == imp {
					return
				}
			}
			if test {
				for _, a := range testOnly {
					if a == imp {
						return
					}
				}
			}
			t.Errorf("%s imports %s, which the table does not allow", pkg, imp)
		}
		for _, imp := range imports {
			check(imp, false)
		}
		for _, imp := range testImports {
			check(imp, true)
		}
	}
}
