// Command zonecheck parses an RFC 1035 zone file with github.com/miekg/dns, the
// parser CoreDNS's file and auto plugins use, and reports what CoreDNS would
// object to.
//
//	zonecheck [-json] [-rrs] -origin example.com path/to/db.example.com
//
// Every problem is printed as "file:line: message" (line 0 when the problem is
// not tied to one line). The exit status is 0 when the zone parses and has an
// SOA record at its apex, 1 when it does not, and 2 on bad usage or an
// unreadable file. The parser stops at its first syntax error (as in CoreDNS),
// so at most one syntax error is reported per run.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// problem is one reason the zone is not acceptable.
type problem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// record is one parsed resource record, for callers that compare contents.
type record struct {
	Name string `json:"name"`
	TTL  uint32 `json:"ttl"`
	Type string `json:"type"`
	Data string `json:"data"`
}

type report struct {
	File      string    `json:"file"`
	Origin    string    `json:"origin"`
	Records   int       `json:"records"`
	SOASerial *uint32   `json:"soaSerial"`
	Owners    []string  `json:"owners"`
	Errors    []problem `json:"errors"`
	RRs       []record  `json:"rrs,omitempty"`
}

// miekg/dns keeps ParseError's fields private; its text ends in
// `"token" at line: L:C`, which is where the position comes from.
var positionSuffix = regexp.MustCompile(` at line: (\d+):(\d+)$`)

func describeParseError(err error, file string) problem {
	text := err.Error()
	text = strings.TrimPrefix(text, file+": ")
	text = strings.TrimPrefix(text, "dns: ")
	p := problem{Message: text}
	if m := positionSuffix.FindStringSubmatch(text); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column, _ = strconv.Atoi(m[2])
		p.Message = strings.TrimSuffix(text, m[0])
	}
	return p
}

func check(r io.Reader, origin, file string, keepRRs bool) report {
	rep := report{File: file, Origin: origin, Owners: []string{}, Errors: []problem{}}
	zp := dns.NewZoneParser(r, origin, file)
	owners := map[string]bool{}
	seenApexSOA := false
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rep.Records++
		h := rr.Header()
		if !owners[h.Name] {
			owners[h.Name] = true
			rep.Owners = append(rep.Owners, h.Name)
		}
		if !dns.IsSubDomain(origin, h.Name) {
			rep.Errors = append(rep.Errors, problem{
				Message: fmt.Sprintf("owner %s is outside the zone %s", h.Name, origin),
			})
		}
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			switch {
			case !strings.EqualFold(h.Name, origin):
				rep.Errors = append(rep.Errors, problem{
					Message: fmt.Sprintf("SOA record owned by %s, not by the zone apex %s", h.Name, origin),
				})
			case seenApexSOA:
				rep.Errors = append(rep.Errors, problem{Message: "more than one SOA record at the zone apex"})
			default:
				seenApexSOA = true
				serial := soa.Serial
				rep.SOASerial = &serial
			}
		}
		if keepRRs {
			data := strings.TrimPrefix(rr.String(), h.String())
			rep.RRs = append(rep.RRs, record{Name: h.Name, TTL: h.Ttl, Type: dns.TypeToString[h.Rrtype], Data: data})
		}
	}
	if err := zp.Err(); err != nil {
		rep.Errors = append(rep.Errors, describeParseError(err, file))
	} else if !seenApexSOA {
		rep.Errors = append(rep.Errors, problem{Message: fmt.Sprintf("no SOA record at the zone apex %s", origin)})
	}
	sort.Strings(rep.Owners)
	return rep
}

func main() {
	origin := flag.String("origin", "", "zone origin, e.g. vm.example.com (required)")
	asJSON := flag.Bool("json", false, "print a JSON report on stdout instead of text")
	keepRRs := flag.Bool("rrs", false, "with -json, include every record in the report")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: zonecheck [-json] [-rrs] -origin ORIGIN FILE\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *origin == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	fqdnOrigin := dns.Fqdn(*origin)
	if _, ok := dns.IsDomainName(fqdnOrigin); !ok {
		fmt.Fprintf(os.Stderr, "zonecheck: -origin %q is not a domain name\n", *origin)
		os.Exit(2)
	}
	file := flag.Arg(0)
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zonecheck: %v\n", err)
		os.Exit(2)
	}
	defer f.Close()

	rep := check(f, fqdnOrigin, file, *keepRRs)
	if *asJSON {
		out, err := json.Marshal(rep)
		if err != nil {
			fmt.Fprintf(os.Stderr, "zonecheck: %v\n", err)
			os.Exit(2)
		}
		fmt.Println(string(out))
	} else {
		for _, p := range rep.Errors {
			message := p.Message
			if p.Column > 0 {
				message += " (column " + strconv.Itoa(p.Column) + ")"
			}
			fmt.Printf("%s:%d: %s\n", file, p.Line, message)
		}
		if len(rep.Errors) == 0 {
			serial := uint32(0)
			if rep.SOASerial != nil {
				serial = *rep.SOASerial
			}
			fmt.Printf("%s: zone %s loaded: %d records, serial %d\n", file, fqdnOrigin, rep.Records, serial)
		}
	}
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}
